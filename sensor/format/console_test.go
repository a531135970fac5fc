package format

import (
	"strings"
	"testing"
)

func TestConsoleLines(t *testing.T) {
	alert := map[string]any{
		"@timestamp": "2026-12-02T18:46:57.515Z",
		"event":      map[string]any{"kind": "alert", "action": "unexpected-library-untrusted", "reason": "ssh is a credential program; hook.so defines pam_authenticate"},
		"rule":       map[string]any{"name": "Untrusted library loaded into a credential process"},
		"process":    map[string]any{"name": "ssh", "pid": 8764, "user": map[string]any{"name": "root"}},
		"dll":        map[string]any{"path": "/tmp/x/hook.so"},
		"labels":     map[string]any{"severity_level": "critical"},
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

	event := map[string]any{
		"@timestamp": "2026-12-02T18:46:57.515Z",
		"event":      map[string]any{"kind": "event", "action": "exec"},
		"process":    map[string]any{"executable": "/usr/bin/true", "pid": 42},
		"message":    "true started with LD_PRELOAD",
	}
	b, _ = Console{}.Encode(event)
	if got := string(b); !strings.Contains(got, "event    exec  true[42]: true started with LD_PRELOAD") {
		t.Errorf("telemetry line: %q", got)
	}
}
