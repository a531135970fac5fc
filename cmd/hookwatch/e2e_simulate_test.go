package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// hookwatch simulate against a daemon on the host: every scenario that can
// run here is reported (the unit drop-in needs a running systemd: the
// systemd host test in packaging runs it), and with the daemon gone the
// same scenario fails. The daemon folds repeats as in production: a second
// run still delivers an alert of its own (an operator testing the way to
// the SIEM runs it more than once).
func TestSimulateOnTheHost(t *testing.T) {
	s := startSensor(t, "-no-sweep", "-fold-window", "5m")
	addr, _ := s.logLine("hookwatch running")["metrics"].(string)
	if addr == "" {
		t.Fatalf("no metrics address in the log:\n%s", s.stderr.String())
	}
	url := "http://" + addr + "/metrics"
	out, err := exec.Command(binPath, "simulate", "-metrics", url, "-timeout", "30s").CombinedOutput()
	t.Logf("hookwatch simulate:\n%s", out)
	if err != nil {
		t.Errorf("simulate: %v", err)
	}
	for _, sc := range []string{"preload-into-ssh", "audit-into-ssh", "loader-preload-flag", "read-ssh-agent-memory"} {
		if !strings.Contains(string(out), "PASS  "+sc) {
			t.Errorf("scenario %s did not pass", sc)
		}
	}
	// What it did is undone: nothing of it is left in the temporary directory.
	if left, _ := exec.Command("sh", "-c", "ls -d /tmp/hookwatch-simulate-* 2>/dev/null").Output(); len(left) > 0 {
		t.Errorf("left behind: %s", left)
	}
	out, err = exec.Command(binPath, "simulate", "-metrics", url, "-timeout", "30s", "-only", "preload-into-ssh").CombinedOutput()
	if err != nil {
		t.Errorf("simulate, a second time: %v\n%s", err, out)
	}
	s.waitUntil("each run's alert for its preload into ssh", 10*time.Second, func(docs []map[string]any) (bool, string) {
		libs := map[string]bool{}
		for _, d := range docs {
			if str(d, "rule.id") == ruleLoaderVarCredUntrusted && str(d, "process.name") == "ssh" && strings.Contains(str(d, "dll.path"), "/hookwatch-simulate-") {
				libs[str(d, "dll.path")] = true
			}
		}
		return len(libs) == 2, fmt.Sprintf("%d runs' libraries alerted, want 2", len(libs))
	})
	s.stop()

	out, err = exec.Command(binPath, "simulate", "-metrics", url, "-timeout", "2s", "-only", "preload-into-ssh").CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "FAIL  preload-into-ssh") {
		t.Errorf("simulate with no daemon: exit %d\n%s", exitCode(err), out)
	}
}
