package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hookwatch/hookwatch/internal/testroot"
)

// A chroot of another Debian (a build chroot, debootstrap's second stage):
// its programs run by its own loader and map its own packages' libraries,
// which the host's loader and package database know nothing of. They are
// judged in their root, so its credential programs raise nothing, and a
// hook preloaded into ssh inside it is still caught, named as the process
// names it.
func TestChrootJudgedInItsOwnRoot(t *testing.T) {
	root := testroot.Bookworm(t)
	hook := compileHook(t)
	b, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	inRoot := "/tmp/hookwatch-chroot-hook.so"
	if err := os.WriteFile(filepath.Join(root, inRoot), b, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(root, inRoot)) })

	s := startSensor(t, "-no-sweep")
	for _, script := range []string{
		"passwd -S root",
		"su -s /bin/sh -c true nobody; passwd -S root; sleep 0.2",
	} {
		if out, err := exec.Command("chroot", root, "/bin/sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("chroot %s: %v\n%s", script, err, out)
		}
	}
	attack := exec.Command("chroot", root, "/bin/sh", "-c", "LD_PRELOAD="+inRoot+" ssh -V; sleep 0.2")
	if out, err := attack.CombinedOutput(); err != nil {
		t.Fatalf("ssh in the chroot: %v\n%s", err, out)
	}
	s.waitFor("the alert for the hook in ssh, inside the chroot", func(d map[string]any) bool {
		return str(d, "event.kind") == "alert" && str(d, "process.executable") == "/usr/bin/ssh" && str(d, "dll.path") == inRoot
	})
	s.stop()
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && str(d, "process.name") != "ssh" {
			t.Errorf("alert in the chroot: %s (%s, %s)", str(d, "message"), str(d, "process.executable"), str(d, "dll.path"))
		}
	}
}
