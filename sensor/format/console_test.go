package format

import (
	"strings"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

func TestConsoleLines(t *testing.T) {
	when := time.Date(2026, 12, 2, 18, 46, 57, 515000000, time.UTC)
	alert := &observation.Observation{
		Timestamp: "2026-12-02T18:46:57.515Z", Time: when, Level: observation.LevelCritical,
		Event:   observation.Event{Kind: "alert", Action: "unexpected-library-untrusted", Reason: "ssh is a credential program; hook.so defines pam_authenticate"},
		Rule:    &observation.Rule{Name: "Untrusted library loaded into a credential process"},
		Process: &observation.Process{Name: "ssh", PID: 8764, User: &observation.ID{Name: "root"}},
		Dll:     &observation.Dll{Path: "/tmp/x/hook.so"},
		Labels:  observation.LabelsOf(map[string]string{"severity_level": "critical"}),
	}
	b, err := Console{Color: true}.Encode(alert)
	if err != nil {
		t.Fatal(err)
	}
	line := string(b)
	for _, want := range []string{"\x1b[1;31mCRITICAL", "Untrusted library loaded into a credential process", "ssh[8764]", "user=root", "library=/tmp/x/hook.so", ": ssh is a credential program"} {
		if !strings.Contains(line, want) {
			t.Errorf("alert line lacks %q: %q", want, line)
		}
	}
	if strings.Contains(line, "\n") || len(line) > 400 {
		t.Errorf("not one short line: %q", line)
	}
	b, _ = Console{}.Encode(alert)
	if strings.Contains(string(b), "\x1b[") {
		t.Errorf("colour without Color: %q", b)
	}

	event := &observation.Observation{
		Timestamp: "2026-12-02T18:46:57.515Z", Time: when,
		Event:   observation.Event{Kind: "event", Action: "exec"},
		Process: &observation.Process{Executable: "/usr/bin/true", PID: 42},
		Message: "true started with LD_PRELOAD",
	}
	b, _ = Console{}.Encode(event)
	if got := string(b); !strings.Contains(got, "event    exec  true[42]: true started with LD_PRELOAD") {
		t.Errorf("telemetry line: %q", got)
	}
}
