// Package testlock serialises tests, in any package, that use something the
// host has one of.
//
// `go test ./...` runs packages in parallel processes. The audit subsystem
// has one registered reader and one rule list: a test of the audit
// collector in one package and an end-to-end test of the daemon in audit
// mode (or with auditd) in another would take the stream from each other
// and delete each other's rules. dpkg takes its database lock without
// waiting: a package test's `dpkg -i` fails while another test's apt-get
// holds it. Each such test holds the lock of its resource first.
package testlock

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Resources a test may hold.
const (
	Audit = "audit" // the kernel audit subsystem
	Dpkg  = "dpkg"  // the host's package database
)

// Dir is where the lock files are.
const Dir = "/run/lock"

// Hold blocks until no other test process holds the resource, and holds
// it until t ends.
func Hold(t testing.TB, resource string) {
	t.Helper()
	path := filepath.Join(Dir, "hookwatch-test-"+resource+".lock")
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		t.Fatalf("test lock: %v", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("test lock: %v", err)
	}
	start := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("test lock %s: %v", path, err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Logf("waited %s for another test process to finish with %s", waited.Round(time.Millisecond), resource)
	}
	t.Cleanup(func() { f.Close() }) // closing the last descriptor releases the lock
}
