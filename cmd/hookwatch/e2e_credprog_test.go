package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A credential program that is not its packaged self: a copy of ssh with
// one more DT_NEEDED entry (a hook), run from a temporary directory, is
// judged against the packaged ssh's closure, so the hook it names is an
// unexpected library, and the executable itself is reported. A plain copy
// of ssh raises nothing.
func TestPatchedCredentialProgramCopy(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("patchelf"); err != nil {
		t.Fatal("patchelf is needed: apt-get install patchelf (make deps)")
	}
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatal("ssh is needed: apt-get install openssh-client (make deps)")
	}
	hook := compileHook(t)
	dir := t.TempDir()
	plain, patched := filepath.Join(dir, "plain", "ssh"), filepath.Join(dir, "patched", "ssh")
	for _, p := range []string{plain, patched} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if out, err := exec.Command("cp", sshPath, p).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	if out, err := exec.Command("patchelf", "--add-needed", hook, patched).CombinedOutput(); err != nil {
		t.Fatalf("patchelf: %v %s", err, out)
	}
	s := startSensor(t, "-no-sweep")

	run := func(bin string) float64 {
		c := exec.Command(bin, "-V")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s -V: %v %s", bin, err, out)
		}
		return float64(c.Process.Pid)
	}
	plainPID := run(plain)
	patchedPID := run(patched)
	s.waitFor("the hook named by the patched ssh's DT_NEEDED, unexpected for ssh", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && get(d, "process.pid") == patchedPID && hasLibrary(d, hook)
	})
	s.waitFor("the patched ssh itself reported", func(d map[string]any) bool {
		return isAlert(d, "credential-program-unpackaged") && get(d, "process.pid") == patchedPID && str(d, "process.executable") == patched
	})
	// The plain copy ran first: its events were handled before these.
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && get(d, "process.pid") == plainPID {
			t.Errorf("alert for a plain copy of ssh: %s: %s", str(d, "event.action"), str(d, "event.reason"))
		}
	}
}
