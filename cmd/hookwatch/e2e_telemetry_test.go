package main

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// telemetry: none writes alerts and nothing else, whatever the kind of
// event: a preloaded credential program (exec, library), a library added to
// /etc/ld.so.preload (a configuration change), a credential process's
// memory read (an access), and the configuration found at start.
func TestTelemetryNoneWritesAlertsOnly(t *testing.T) {
	hook := compileHook(t)
	reach := compileReach(t)
	agent := startAgent(t)
	replaceFile(t, preloadFile, nil)
	os.Remove(preloadFile)
	s := startSensor(t, "-telemetry", "none")

	sshPath, _ := exec.LookPath("ssh")
	ssh := exec.Command(sshPath, "-V")
	ssh.Env = append(os.Environ(), "LD_PRELOAD="+hook)
	ssh.Run()
	sh := float64(runSh(t, "echo "+hook+" > "+preloadFile))
	s.waitFor("the preload file's alert", func(d map[string]any) bool {
		return isAlert(d, "preload-file-library-added") && get(d, "process.pid") == sh
	})
	os.Remove(preloadFile)
	rd := exec.Command(reach, "mem-read", strconv.Itoa(agent))
	if out, err := rd.CombinedOutput(); err != nil {
		t.Fatalf("reach: %v %s", err, out)
	}
	s.waitFor("the preloaded ssh's alert", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && get(d, "process.pid") == float64(ssh.Process.Pid)
	})
	s.waitFor("the memory read's alert", func(d map[string]any) bool {
		return isAlert(d, "credential-process-memory-read") && get(d, "process.pid") == float64(rd.Process.Pid)
	})
	s.stop()
	for _, d := range s.docs() {
		if str(d, "event.kind") != "alert" {
			t.Errorf("telemetry: none wrote a %s document (%s): %s", str(d, "event.dataset"), str(d, "event.action"), str(d, "message"))
		}
	}
}
