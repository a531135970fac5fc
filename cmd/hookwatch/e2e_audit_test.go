package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

// requireAudit checks for root and auditctl, and waits until no other test
// process (the audit package's tests run in parallel with these) uses the
// audit subsystem: it has one reader and one rule list per host.
func requireAudit(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("auditctl"); err != nil {
		t.Fatal("auditctl is needed: apt-get install auditd (see .ci/run)")
	}
	testlock.Hold(t, testlock.Audit)
}

func auditConfig(t *testing.T) string {
	conf := filepath.Join(t.TempDir(), "hookwatch.yaml")
	os.WriteFile(conf, []byte("collector: audit\nlog:\n  format: json\n"), 0o600)
	return conf
}

func auditRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("auditctl", "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("auditctl -l: %v %s", err, out)
	}
	return string(out)
}

// The core scenarios audit can see raise the same detections as eBPF.
func TestAuditModeScenarios(t *testing.T) {
	requireAudit(t)
	hook := compileHook(t)
	srv := startSSHD(t)
	before := auditRules(t)
	s := startSensor(t, "-config", auditConfig(t), "-no-sweep")
	s.auditLoss = true
	if got, _ := s.logLine("hookwatch running")["collector"].(string); got != "audit" {
		t.Fatalf("collector %q, want audit", got)
	}

	// Preload into ssh through the environment (read from /proc at once).
	srv.ssh(t, []string{"LD_PRELOAD=" + hook}, "sleep 0.2")
	for _, action := range []string{"loader-variable-credential-untrusted", "unexpected-library-untrusted"} {
		s.waitFor(action+" for ssh in audit mode", func(d map[string]any) bool {
			return isAlert(d, action) && str(d, "process.name") == "ssh" && hasLibrary(d, hook)
		})
	}

	// The loader run with --preload: visible in the EXECVE arguments.
	sshPath, _ := exec.LookPath("ssh")
	ld := exec.Command("/lib64/ld-linux-x86-64.so.2", "--preload", hook, sshPath, "-V")
	ld.Run()
	s.waitFor("ld.so --preload in audit mode", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && get(d, "process.pid") == float64(ld.Process.Pid) && hasLibrary(d, hook)
	})

	// /etc/ld.so.preload written by sh, the writer identified.
	replaceFile(t, preloadFile, nil)
	os.Remove(preloadFile)
	sh := float64(runSh(t, "echo "+hook+" > "+preloadFile))
	s.waitFor("preload file alert naming sh in audit mode", func(d map[string]any) bool {
		return isAlert(d, "preload-file-library-added") && byShell(d, sh) && str(d, "process.name") == "sh"
	})
	os.Remove(preloadFile)

	// A running ssh-agent's memory read by process_vm_readv and written by
	// ptrace: audit's syscall records name the target.
	reach, agent := compileReach(t), startAgent(t)
	for mode, rule := range map[string]string{"vm-read": "credential-process-memory-read", "poke": "credential-process-memory-write"} {
		c := exec.Command(reach, mode, fmt.Sprint(agent))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("reach %s: %v %s", mode, err, out)
		}
		s.waitFor(mode+" of ssh-agent in audit mode", func(d map[string]any) bool {
			return isAlert(d, rule) && get(d, "process.pid") == float64(c.Process.Pid) && str(d, "labels.target_process_id") == fmt.Sprint(agent)
		})
	}
	s.stop()
	if after := auditRules(t); after != before {
		t.Errorf("audit rules changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A preloaded credential program that exits at once (ssh -V) is caught in
// audit mode every time, on a busy machine too: the library's open is in
// audit's own record, so nothing has to be read from /proc before the
// process is gone.
func TestAuditModeShortLivedCredentialProgram(t *testing.T) {
	requireAudit(t)
	hook := compileHook(t)
	s := startSensor(t, "-config", auditConfig(t), "-no-sweep")
	s.auditLoss = true
	const n = 60
	want := map[float64]bool{}
	for i := 0; i < n; i++ {
		c := exec.Command("ssh", "-V")
		c.Env = append(os.Environ(), "LD_PRELOAD="+hook)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("ssh -V: %v %s", err, out)
		}
		want[float64(c.Process.Pid)] = true
	}
	s.waitUntil(fmt.Sprintf("an alert for each of %d preloaded ssh -V", n), 60*time.Second, func(docs []map[string]any) (bool, string) {
		caught := map[float64]bool{}
		for _, d := range docs {
			if pid, _ := get(d, "process.pid").(float64); want[pid] && isAlert(d, "unexpected-library-untrusted") && hasLibrary(d, hook) {
				caught[pid] = true
			}
		}
		return len(caught) == n, fmt.Sprintf("%d of %d caught", len(caught), n)
	})
}

// With auditd running, hookwatch reads alongside it (the multicast group),
// auditd keeps receiving, and the admin's rules are as they were after.
func TestAuditAlongsideAuditd(t *testing.T) {
	requireAudit(t)
	if _, err := exec.LookPath("auditd"); err != nil {
		t.Fatal("auditd is needed: apt-get install auditd (see .ci/run)")
	}
	hook := compileHook(t)
	logDir := "/var/log/audit"
	os.MkdirAll(logDir, 0o700)
	d := exec.Command("auditd", "-n")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
	})
	time.Sleep(time.Second)
	if out, err := exec.Command("auditctl", "-w", "/etc/hosts", "-p", "wa", "-k", "hwtest-admin").CombinedOutput(); err != nil {
		t.Fatalf("admin rule: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("auditctl", "-D", "-k", "hwtest-admin").Run() })
	before := auditRules(t)
	logBefore, _ := os.ReadFile(filepath.Join(logDir, "audit.log"))

	s := startSensor(t, "-config", auditConfig(t), "-no-sweep")
	s.auditLoss = true
	if s.logLine("audit: reading through the multicast group alongside auditd") == nil {
		t.Errorf("hookwatch did not read alongside auditd:\n%s", s.stderr.String())
	}
	// The multicast group is lossy by design (a reader beside auditd
	// cannot hold the kernel back; losses are counted): under load a
	// record can be lost, so the attack is tried again, a few times.
	caught := false
	for try := 0; try < 5 && !caught; try++ {
		sleeper := exec.Command("sleep", "0.5")
		sleeper.Env = []string{"LD_PRELOAD=" + hook}
		sleeper.Run()
		deadline := time.Now().Add(5 * time.Second)
		for !caught && time.Now().Before(deadline) {
			for _, doc := range s.docs() {
				caught = caught || (isAlert(doc, "loader-variable-untrusted") && get(doc, "process.pid") == float64(sleeper.Process.Pid))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !caught {
		t.Fatalf("no alert while auditd runs, in 5 tries:\n%s\n%s", s.dump(), s.stderr.String())
	}
	s.stop()

	time.Sleep(500 * time.Millisecond)
	logAfter, _ := os.ReadFile(filepath.Join(logDir, "audit.log"))
	if !strings.Contains(string(logAfter[min(len(logBefore), len(logAfter)):]), `key="hookwatch"`) {
		t.Error("auditd stopped receiving records while hookwatch ran")
	}
	if after := auditRules(t); after != before {
		t.Errorf("audit rules changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// auto mode on a kernel that refuses BPF falls back to audit and says why.
func TestAutoFallsBackToAudit(t *testing.T) {
	requireAudit(t)
	hook := compileHook(t)
	t.Setenv("HOOKWATCH_TEST_DENY_BPF", "1")
	s := startSensor(t, "-no-sweep")
	s.auditLoss = true
	fb := s.logLine("eBPF collector unavailable: falling back to the audit collector")
	if fb == nil || !strings.Contains(str(fb, "error"), "permission denied") {
		t.Fatalf("no fallback log line with the reason:\n%s", s.stderr.String())
	}
	if got, _ := s.logLine("hookwatch running")["collector"].(string); got != "audit" {
		t.Errorf("collector %q, want audit", got)
	}
	sshPath, _ := exec.LookPath("ssh")
	ld := exec.Command("/lib64/ld-linux-x86-64.so.2", "--preload", hook, sshPath, "-V")
	ld.Run()
	s.waitFor("alert in fallback mode", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && get(d, "process.pid") == float64(ld.Process.Pid)
	})
}
