package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every rule a scenario waits for is a shipped rule: a renamed or removed
// rule would make simulate fail on every host.
func TestSimulateNamesShippedRules(t *testing.T) {
	files, err := filepath.Glob("../../rules/sigma/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules: %v", err)
	}
	ids := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if id, ok := strings.CutPrefix(l, "id: "); ok {
				ids[strings.TrimSpace(id)] = true
			}
		}
	}
	for _, sc := range scenarios {
		if len(sc.rules) == 0 {
			t.Errorf("%s waits for no rule", sc.name)
		}
		for _, id := range sc.rules {
			if !ids[id] {
				t.Errorf("%s waits for rule %s, which rules/sigma does not have", sc.name, id)
			}
		}
	}
}

func TestAgentPID(t *testing.T) {
	out := "SSH_AUTH_SOCK=/tmp/a.sock; export SSH_AUTH_SOCK;\nSSH_AGENT_PID=4242; export SSH_AGENT_PID;\necho Agent pid 4242;\n"
	if got := agentPID(out); got != 4242 {
		t.Errorf("agentPID = %d", got)
	}
	if got := agentPID("nothing"); got != 0 {
		t.Errorf("agentPID of nothing = %d", got)
	}
}
