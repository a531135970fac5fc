// Package testroot gives tests a Debian 12 root file system, debootstrapped
// once per machine and kept: the systemd host boots it (packaging), and the
// end-to-end tests run programs chrooted into it (cmd/hookwatch). Tests use
// it read-only (the systemd host boots a throw-away copy of it).
package testroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

const (
	// Dir is where the root is kept.
	Dir = "/var/cache/hookwatch-test/systemd-bookworm"
	// Stamp is written last: the root is complete.
	Stamp    = "etc/hookwatch-test-root"
	packages = "systemd,systemd-sysv,dbus,init-system-helpers,openssh-client,rsyslog"
)

// Bookworm returns the root, debootstrapping it when it is missing (about
// 40 s to 3 min from deb.debian.org). Test processes building it at once
// wait for each other.
func Bookworm(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatal("debootstrap is needed: apt-get install debootstrap (make deps)")
	}
	if complete() {
		return Dir
	}
	f, err := os.OpenFile(filepath.Join(testlock.Dir, "hookwatch-test-debian-root.lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if complete() { // another test process built it meanwhile
		return Dir
	}
	tmp := Dir + ".tmp"
	os.RemoveAll(tmp)
	os.MkdirAll(filepath.Dir(tmp), 0o755)
	start := time.Now()
	out, err := exec.Command("debootstrap", "--variant=minbase", "--include="+packages, "bookworm", tmp, "http://deb.debian.org/debian").CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, out)
	}
	// Boots to a prompt-less multi-user target; no getty on the console.
	os.Remove(filepath.Join(tmp, "etc/systemd/system/getty.target.wants/getty@tty1.service"))
	os.WriteFile(filepath.Join(tmp, "etc/hostname"), []byte("hwhost\n"), 0o644)
	if err := os.WriteFile(filepath.Join(tmp, Stamp), []byte(packages+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(Dir)
	if err := os.Rename(tmp, Dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrapped Debian 12 in %s", time.Since(start).Round(time.Second))
	return Dir
}

func complete() bool {
	_, err := os.Stat(filepath.Join(Dir, Stamp))
	return err == nil
}
