package ruleset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/rulesdir"
)

func TestBuiltinRulesPassTheirTests(t *testing.T) {
	s, userErrs, err := Load(rules.Sigma(), nil)
	if err != nil || len(userErrs) > 0 {
		t.Fatal(err, userErrs)
	}
	if len(s.Rules()) < 15 {
		t.Fatalf("%d built-in rules", len(s.Rules()))
	}
	names := map[string]bool{}
	for _, r := range s.Rules() {
		for _, e := range r.Test(true) {
			t.Errorf("%s (%s): %v", r.Name, r.File, e)
		}
		if names[r.Name] {
			t.Errorf("name %s used twice", r.Name)
		}
		names[r.Name] = true
		if len(r.Techniques()) == 0 || r.Description == "" || len(r.References) == 0 {
			t.Errorf("%s: needs techniques, a description and references", r.Name)
		}
	}
}

const good = `title: ssh run with a marker
id: 5b0e6f43-3b5e-4a43-9d0e-0a4c5f2f8b11
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: /ssh
    CommandLine|contains: marker
  condition: selection
level: medium
`

func TestUserRulesAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.yml", good)
	write("dup.yml", strings.Replace(good, "5b0e6f43-3b5e-4a43-9d0e-0a4c5f2f8b11", "cefa3a69-8e81-459e-9e6e-359188a9a8fe", 1))
	write("network.yml", strings.Replace(strings.Replace(good, "process_creation", "network_connection", 1), "5b0e6f43", "5b0e6f44", 1))
	write("keywords.yml", strings.Replace(strings.Replace(good, "    Image|endswith: /ssh\n    CommandLine|contains: marker\n", "    - evil\n", 1), "5b0e6f43", "5b0e6f45", 1))
	write("modifier.yml", strings.Replace(strings.Replace(good, "endswith", "windash", 1), "5b0e6f43", "5b0e6f46", 1))
	write("undefined.yml", strings.Replace(strings.Replace(good, "condition: selection", "condition: selection and not filter", 1), "5b0e6f43", "5b0e6f47", 1))
	write("broken.yml", "title: x\ndetection: [\n")
	write("allow.yml", "allowlist:\n  - {name: x, description: y, paths: [/opt/x.so], packages: [x]}\n")
	write("notes.txt", "not a rule")
	s, errs, err := Load(rules.Sigma(), rulesdir.Read(dir).Rules)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"dup.yml":       "already used by builtin:",
		"network.yml":   `category "network_connection"`,
		"keywords.yml":  "keyword searches are not supported",
		"modifier.yml":  "unknown modifier windash",
		"undefined.yml": "filter is not a search of this rule",
		"broken.yml":    "",
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	for _, e := range errs {
		fe, ok := e.(*FileError)
		if !ok {
			t.Errorf("%v is not a FileError", e)
			continue
		}
		w, known := want[filepath.Base(fe.File)]
		if !known || !strings.Contains(e.Error(), w) {
			t.Errorf("%v: want it to say %q", e, w)
		}
	}
	// Built-ins all survive, the good user rule joins them.
	builtin, _, _ := Load(rules.Sigma(), nil)
	if len(s.Rules()) != len(builtin.Rules())+1 {
		t.Errorf("%d rules, want %d built-in + 1", len(s.Rules()), len(builtin.Rules()))
	}
	ev := map[string]any{"Image": "/usr/bin/ssh", "CommandLine": "ssh -o x=marker host"}
	m, errs2 := s.Match(ProcessCreation, ev)
	if len(errs2) > 0 || len(m) != 1 || m[0].Name != "5b0e6f43-3b5e-4a43-9d0e-0a4c5f2f8b11" {
		t.Errorf("match: %v %v", m, errs2)
	}
	if m, _ := s.Match(ImageLoad, ev); len(m) != 0 {
		t.Errorf("a process_creation rule matched an image_load event: %v", m)
	}
}

func TestOneOfIdentifierAndLists(t *testing.T) {
	r, err := Parse([]byte(`title: t
id: 11111111-2222-3333-4444-555555555555
logsource: {product: linux, category: image_load}
detection:
  sel:
    InterposedSymbols: pam_authenticate
  other:
    RiskScore|gte: 70
  condition: 1 of sel and all of other
level: high
`), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ev   map[string]any
		want bool
	}{
		{map[string]any{"InterposedSymbols": []string{"read", "pam_authenticate"}, "RiskScore": 90}, true},
		{map[string]any{"InterposedSymbols": []string{"read"}, "RiskScore": 90}, false},
		{map[string]any{"InterposedSymbols": []string{"pam_authenticate"}, "RiskScore": 40}, false},
		{map[string]any{}, false},
	} {
		if got, err := r.Match(c.ev); got != c.want || err != nil {
			t.Errorf("%v: %v %v, want %v", c.ev, got, err, c.want)
		}
	}
}

func TestTags(t *testing.T) {
	r := &Rule{}
	r.Tags = []string{"attack.credential_access", "attack.t1056.004", "attack.T1574.006", "attack.g0007", "cve.2021-1"}
	if got := strings.Join(r.Techniques(), ","); got != "T1056.004,T1574.006" {
		t.Errorf("techniques %s", got)
	}
	if got := strings.Join(r.Tactics(), ","); got != "credential_access" {
		t.Errorf("tactics %s", got)
	}
	// Sigma 2's spelling names the same tactics.
	r.Tags = []string{"attack.credential-access", "attack.defense-evasion", "attack.privilege_escalation"}
	if got := strings.Join(r.Tactics(), ","); got != "credential_access,defense_evasion,privilege_escalation" {
		t.Errorf("tactics %s", got)
	}
}

// Rules in SigmaHQ's style (testdata/sigmahq-style/README.md says why they
// are not SigmaHQ's own) load as they are and match their samples.
func TestSigmaHQStyleRules(t *testing.T) {
	s, errs, err := Load(rules.Sigma(), rulesdir.Read("testdata/sigmahq-style").Rules)
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	n := 0
	for _, r := range s.Rules() {
		if r.Builtin {
			continue
		}
		n++
		for _, e := range r.Test(true) {
			t.Errorf("%s: %v", r.Title, e)
		}
	}
	if n != 5 {
		t.Errorf("%d rules loaded from testdata, want 5", n)
	}
}

// A rule file from rules.d is outside input: an error or a rule, never a
// panic, never both; a rule that loads can be evaluated on any event.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("title: x\ndetection:\n  a: {F: null}\n  condition: 1 of a\n"))
	f.Add([]byte("detection: {condition: 'a and (b or'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b, "fuzz.yml")
		if (r == nil) == (err == nil) {
			t.Fatalf("rule %v and error %v", r, err)
		}
		if r != nil {
			r.Match(map[string]any{"Image": "/usr/bin/ssh", "LibraryTrust": []string{"x"}})
			r.Test(false)
		}
	})
}

// A rules directory that cannot be read costs the user's rules, never the
// built-in ones.
func TestUnreadableDirectoryKeepsBuiltins(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	user := rulesdir.Read(notDir)
	if len(user.Errs) != 1 || !strings.Contains(user.Errs[0].Error(), notDir) {
		t.Fatalf("reading errors %v", user.Errs)
	}
	s, errs, err := Load(rules.Sigma(), user.Rules)
	if err != nil || len(errs) != 0 {
		t.Fatalf("err %v, user errors %v", err, errs)
	}
	builtin, _, _ := Load(rules.Sigma(), nil)
	if len(s.Rules()) != len(builtin.Rules()) {
		t.Errorf("%d rules, want the %d built-in", len(s.Rules()), len(builtin.Rules()))
	}
}

// The built-in rules test CredentialTarget, Expected and ByPackageManager
// for false and nothing else; a user's rule testing another field for
// false (quoted or not) adds it.
func TestFalseTested(t *testing.T) {
	s, _, err := Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.FalseTested()
	for _, f := range []string{"CredentialTarget", "Expected", "ByPackageManager"} {
		if !got[f] {
			t.Errorf("%s is tested for false by a built-in rule, not listed: %v", f, got)
		}
	}
	for _, f := range []string{"LoaderCopy", "InterpreterUnexpected", "SourceIsTargetParent"} {
		if got[f] {
			t.Errorf("%s is tested for true only, listed: %v", f, got)
		}
	}
	body := strings.Replace(good, "    CommandLine|contains: marker\n", "    LoaderCopy: false\n    Deleted: 'false'\n", 1)
	s, userErrs, err := Load(rules.Sigma(), []rulesdir.File{{Path: "/etc/hookwatch/rules.d/copy.yml", Data: []byte(body)}})
	if err != nil || len(userErrs) > 0 {
		t.Fatal(err, userErrs)
	}
	if got := s.FalseTested(); !got["LoaderCopy"] || !got["Deleted"] {
		t.Errorf("a user's rule testing LoaderCopy and Deleted for false: %v", got)
	}
}
