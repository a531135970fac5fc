package main

import (
	"os/exec"
	"strings"
	"testing"
)

// hookwatch simulate against a daemon on the host: every scenario that can
// run here is reported (the unit drop-in needs a running systemd: the
// systemd host test in packaging runs it), and with the daemon gone the
// same scenario fails.
func TestSimulateOnTheHost(t *testing.T) {
	s := startSensor(t, "-no-sweep")
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
	s.stop()

	out, err = exec.Command(binPath, "simulate", "-metrics", url, "-timeout", "2s", "-only", "preload-into-ssh").CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "FAIL  preload-into-ssh") {
		t.Errorf("simulate with no daemon: exit %d\n%s", exitCode(err), out)
	}
}
