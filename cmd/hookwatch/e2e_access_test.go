package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// compileReach builds testdata/reach.c: it reads or writes another
// process's memory by /proc/PID/mem, process_vm_readv/writev or ptrace.
func compileReach(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reach")
	if out, err := exec.Command("gcc", "-Wall", "-o", bin, "testdata/reach.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// startAgent runs a real ssh-agent in the foreground until the test ends.
func startAgent(t *testing.T) int {
	t.Helper()
	bin, err := exec.LookPath("ssh-agent")
	if err != nil {
		t.Fatal("ssh-agent is needed: apt-get install openssh-client (make deps)")
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	c := exec.Command(bin, "-D", "-a", sock)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			return c.Process.Pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("ssh-agent did not start")
	return 0
}

// accessAlerts are the alerts raised for one caller process.
func accessAlerts(s *sensor, caller int) []map[string]any {
	var out []map[string]any
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && get(d, "process.pid") == float64(caller) {
			out = append(out, d)
		}
	}
	return out
}

// Reading or writing a running ssh-agent's memory, each way a credential
// stealer or injector does it, raises a critical alert naming the reader
// (process.*) and the agent (labels.target_*); an attach raises a high one.
// One agent ran before the sensor (found by the startup sweep), one after
// (marked at exec). Each route raises at most 5 alerts.
func TestMemoryAccessToCredentialProcess(t *testing.T) {
	requireRoot(t)
	reach := compileReach(t)
	before := startAgent(t)
	s := startSensor(t)
	after := startAgent(t)

	type want struct {
		rule, level string
	}
	read, write, attach := want{"credential-process-memory-read", "critical"}, want{"credential-process-memory-write", "critical"}, want{"credential-process-attach", "high"}
	routes := []struct {
		mode string
		want []want
	}{
		{"mem-read", []want{read}},
		{"vm-read", []want{read}},
		{"peek", []want{attach, read}},
		{"mem-write", []want{write}},
		{"vm-write", []want{read, write}},
		{"poke", []want{attach, read, write}},
	}
	for _, agent := range []int{before, after} {
		for _, r := range routes {
			c := exec.Command(reach, r.mode, strconv.Itoa(agent))
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("reach %s %d: %v %s", r.mode, agent, err, out)
			}
			caller := c.Process.Pid
			for _, w := range r.want {
				a := s.waitFor(r.mode+" of ssh-agent: "+w.rule, func(d map[string]any) bool {
					return isAlert(d, w.rule) && get(d, "process.pid") == float64(caller)
				})
				if got := str(a, "labels.severity_level"); got != w.level {
					t.Errorf("%s: %s at %s, want %s", r.mode, w.rule, got, w.level)
				}
				if str(a, "process.executable") != reach || str(a, "labels.target_process_id") != strconv.Itoa(agent) ||
					filepath.Base(str(a, "labels.target_image")) != "ssh-agent" {
					t.Errorf("%s: alert names %s -> %s (pid %s), want %s -> ssh-agent (pid %d)", r.mode,
						str(a, "process.executable"), str(a, "labels.target_image"), str(a, "labels.target_process_id"), reach, agent)
				}
			}
			if n := len(accessAlerts(s, caller)); n > 5 {
				t.Errorf("%s: %d alerts for one route, want at most 5", r.mode, n)
			}
		}
	}
}

// What an administrator does every day raises nothing: strace of a plain
// program, gdb running /usr/bin/true, and hookwatch's own reads of /proc
// (its sweep reads the agent's maps). A debugger that starts a credential
// program itself is reported low, never as a stranger's read or write.
func TestDebuggingIsNotMemoryTheft(t *testing.T) {
	requireRoot(t)
	for _, tool := range []string{"strace", "gdb", "sudo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make deps)", tool)
		}
	}
	reach := compileReach(t)
	agent := startAgent(t)
	s := startSensor(t)

	st := exec.Command("strace", "-f", "-o", os.DevNull, "ls", "/")
	if out, err := st.CombinedOutput(); err != nil {
		t.Fatalf("strace: %v %s", err, out)
	}
	gdbTrue := exec.Command("gdb", "-nx", "-batch", "-ex", "run", "--args", "/usr/bin/true")
	if out, err := gdbTrue.CombinedOutput(); err != nil {
		t.Fatalf("gdb true: %v %s", err, out)
	}
	gdbSudo := exec.Command("gdb", "-nx", "-batch", "-ex", "run", "--args", "sudo", "-n", "true")
	if out, err := gdbSudo.CombinedOutput(); err != nil {
		t.Fatalf("gdb sudo: %v %s", err, out)
	}
	s.waitFor("gdb running sudo, reported low", func(d map[string]any) bool {
		return isAlert(d, "credential-program-debugged") && get(d, "process.pid") == float64(gdbSudo.Process.Pid)
	})
	// A marker: once the reader's alert is out, everything before it was
	// handled (one queue, in order).
	marker := exec.Command(reach, "mem-read", strconv.Itoa(agent))
	if out, err := marker.CombinedOutput(); err != nil {
		t.Fatalf("reach: %v %s", err, out)
	}
	s.waitFor("the marker read", func(d map[string]any) bool {
		return isAlert(d, "credential-process-memory-read") && get(d, "process.pid") == float64(marker.Process.Pid)
	})
	self := float64(s.cmd.Process.Pid)
	for _, d := range s.docs() {
		if str(d, "event.dataset") != "hookwatch.access" && str(d, "rule.category") != "process_access" {
			continue
		}
		switch get(d, "process.pid") {
		case float64(st.Process.Pid), float64(gdbTrue.Process.Pid), self:
			t.Errorf("reported: %s", str(d, "message"))
		}
	}
	debugged := accessAlerts(s, gdbSudo.Process.Pid)
	if len(debugged) > 5 {
		t.Errorf("%d alerts for gdb running sudo, want at most 5", len(debugged))
	}
	for _, d := range debugged {
		if str(d, "event.action") != "credential-program-debugged" {
			t.Errorf("gdb running sudo raised %s (%s): %s", str(d, "event.action"), str(d, "labels.severity_level"), str(d, "event.reason"))
		}
	}
}
