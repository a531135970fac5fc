package ecs

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs/ecstest"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

type names struct{}

func (names) User(uid uint32) (string, bool)  { return "root", uid == 0 }
func (names) Group(gid uint32) (string, bool) { return "", false }

func TestDocumentsAreValidECSAndOneLine(t *testing.T) {
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	enc := New(Host{Name: "h", ID: "id", Version: "test"}, names{}, rs, nil)
	hostile := "/tmp/a\nb\"c]d\\e|f=g\xff\xfe" + strings.Repeat("x", 64<<10)
	p := &proctable.Process{
		PID: 10, PPID: 1, EntityID: "e", Executable: hostile, Name: "ssh", Args: []string{"ssh", hostile},
		UID: 1000, EUID: 0, LoaderEnv: []string{"LD_PRELOAD=" + hostile}, Credential: true, Start: time.Now(),
	}
	parent := &proctable.Process{PID: 1, EntityID: "p", Executable: "/sbin/init", Name: "init"}
	now := time.Now()
	sg, _, err := ruleset.Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := detect.New(detect.Config{Rules: rs, Sigma: sg, Resolver: ldso.NewResolver(nil)})
	alerts, _ := eng.Evaluate(eng.Exec(p, parent, &event.Exec{Proc: event.Proc{Time: now}}))
	if len(alerts) != 1 {
		t.Fatalf("%d alerts to encode, want 1", len(alerts))
	}
	a := alerts[0]
	docs := []*Doc{
		enc.Exec(nil, p, parent, &event.Exec{Proc: event.Proc{Time: now}, EnvTruncated: true}),
		enc.ImageLoad(nil, p, nil, &event.ImageLoad{Proc: event.Proc{Time: now}, Path: hostile, Ino: 5, Dev: 0xfe00, Deleted: true, Mode: 0o100755}, &judge.Judgement{Path: hostile, Exists: true, SHA256: "ab", SHA1: "cd", MD5: "ef", Package: "p\xff", Manager: "dpkg", Interposed: []string{"read"}, Findings: []judge.Finding{{Key: "interposes_credential_functions"}}}),
		enc.Alert(nil, p, parent, a),
	}
	// A process reaching into a credential process: the caller is
	// process.*, the target in labels; its alert is valid ECS too.
	agent := &proctable.Process{PID: 20, EntityID: "t", Executable: "/usr/bin/ssh-agent", Name: "ssh-agent", Credential: true}
	ac := &event.Access{Proc: event.Proc{Time: now}, Op: event.AccessMemRead, Target: 20, TargetPID: 20, TargetWatch: event.WatchCredential}
	acEv := eng.Access(p, parent, agent, ac, false)
	acAlerts, _ := eng.Evaluate(acEv)
	if len(acAlerts) != 1 || acAlerts[0].Rule.Name != "credential-process-memory-read" || acAlerts[0].Rule.Level != "critical" {
		t.Fatalf("memory read of ssh-agent raised %v, want credential-process-memory-read", acAlerts)
	}
	docs = append(docs, enc.With(enc.Access(nil, p, parent, agent, ac, false), enc.FactsOf(acEv.Fields)), enc.Alert(nil, p, parent, acAlerts[0]))
	for _, d := range docs[3:] {
		l := d.Labels.Map()
		if l["target_process_id"] != "20" || l["target_image"] != "/usr/bin/ssh-agent" || l["access_class"] != "read" || l["target_entity_id"] == "" && d.Event.Kind == "event" {
			t.Errorf("access document labels: %v", l)
		}
	}
	for _, d := range docs {
		b, err := Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(b, "\n\r") {
			t.Errorf("document spans lines")
		}
		if err := ecstest.ValidateJSON(b); err != nil {
			t.Errorf("invalid ECS: %v", err)
		}
		var back map[string]any
		json.Unmarshal(b, &back)
		exe, _ := back["process"].(map[string]any)["executable"].(string)
		if !strings.Contains(exe, `\xff\xfe`) || !strings.Contains(exe, "\n") {
			t.Errorf("executable lost its odd bytes: %q", exe[:40])
		}
	}
	al := docs[2]
	if al.Event.Kind != "alert" || al.Rule.ID != "cefa3a69-8e81-459e-9e6e-359188a9a8fe" ||
		al.Event.Action != "loader-variable-credential-untrusted" || al.Rule.Ruleset != "hookwatch" {
		t.Errorf("alert doc: %v %v", al.Event, al.Rule)
	}
	// threat.* comes from the rule's attack.* tags.
	th := al.Threat
	if subs := th.Technique.Subtechnique.ID; strings.Join(subs, ",") != "T1056.004,T1574.006" {
		t.Errorf("subtechniques %v", subs)
	}
	if tac := th.Tactic.ID; !slices.Contains(tac, "TA0006") || !slices.Contains(tac, "TA0005") {
		t.Errorf("tactics %v", tac)
	}
	if sev := al.Event.Severity; sev == nil || *sev != 99 || al.Level.String() != "critical" {
		t.Errorf("severity %v (level %v) for a critical alert", sev, al.Level)
	}
	if u := al.Process.User.Name; u != "root" {
		t.Errorf("effective user %v, want root (euid 0)", u)
	}
}

// A false fact is written only when a rule compares its field with false:
// absent reads as false everywhere else.
func TestFalseFactsOnlyWhereARuleTestsThem(t *testing.T) {
	enc := New(Host{Name: "h"}, names{}, nil, nil)
	enc.falseTested = map[string]bool{"Expected": true}
	f := enc.FactsOf(map[string]any{"Expected": false, "LoaderCopy": false, "CredentialTarget": true, "LibraryPackageIntact": []string{"false"}})
	want := map[string]string{"expected": "false", "credential_target": "true", "library_package_intact": "false"}
	if !maps.Equal(f.Map(), want) {
		t.Errorf("facts %v, want %v", f, want)
	}
}

// ts writes what time.Format writes, for times across the range ECS has.
func TestTimestamps(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 3, 15, 4, 5, 123456789, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 28, 23, 59, 59, 999999999, time.FixedZone("x", -7*3600)), time.Unix(0, 1), time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Now(),
	} {
		if got, want := ts(tm), tm.UTC().Format("2006-01-02T15:04:05.000000000Z"); got != want {
			t.Errorf("ts(%v) = %s, want %s", tm, got, want)
		}
	}
}

// An event's documents share its process: the alert's leaner copy leaves
// the telemetry's whole, and a document of another process is not given
// the first one's.
func TestDocumentsOfAnEventShareTheProcess(t *testing.T) {
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	enc := New(Host{Name: "h"}, names{}, rs, nil)
	parent := &proctable.Process{PID: 1, EntityID: "p", Executable: "/usr/bin/bash", Name: "bash", Args: []string{"bash", "-c", strings.Repeat("x", 2048)}}
	p := &proctable.Process{PID: 10, PPID: 1, EntityID: "e", Executable: "/usr/bin/ssh", Name: "ssh", Args: []string{"ssh"},
		LoaderEnv: []string{"LD_PRELOAD=/tmp/h.so"}, Credential: true, Start: time.Now()}
	sg, _, err := ruleset.Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := detect.New(detect.Config{Rules: rs, Sigma: sg, Resolver: ldso.NewResolver(nil)})
	ex := &event.Exec{Proc: event.Proc{Time: time.Now()}}
	ev := eng.Exec(p, parent, ex)
	alerts, _ := eng.Evaluate(ev)
	if len(alerts) == 0 {
		t.Fatal("no alert to share with")
	}
	var sh Shared
	tel := enc.With(enc.Exec(&sh, p, parent, ex), enc.FactsFor(&sh, ev.Fields))
	al := enc.Alert(&sh, p, parent, alerts[0])
	if tel.Process.Group == nil || tel.Process.Parent.User == nil && parent.EUID == 0 {
		t.Errorf("the alert's lean copy changed the telemetry's process: %+v", tel.Process)
	}
	if al.Process.Group != nil || al.Process.Parent.CommandLine != tel.Process.Parent.CommandLine {
		t.Errorf("alert process %+v", al.Process)
	}
	if enc.Exec(&sh, p, parent, ex).Process != tel.Process {
		t.Error("a second document of the event made the process again")
	}
	other := &proctable.Process{PID: 11, EntityID: "o", Executable: "/usr/bin/su", Name: "su"}
	if d := enc.Exec(&sh, other, parent, ex); d.Process == tel.Process || d.Process.Executable != "/usr/bin/su" {
		t.Errorf("another process's document got the shared one: %+v", d.Process)
	}
}
