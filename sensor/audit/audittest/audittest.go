// Package audittest serialises tests that use the kernel audit subsystem.
//
// The audit subsystem is one per host: it has one registered reader and one
// rule list. `go test ./...` runs packages in parallel processes, so a test
// of the audit collector in one package and an end-to-end test of the
// daemon in audit mode (or with auditd) in another would take the stream
// from each other and delete each other's rules. Every such test calls
// Serialize first.
package audittest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// LockPath is the lock file every audit test takes.
const LockPath = "/run/lock/hookwatch-audit-tests.lock"

// Serialize blocks until no other test process uses the audit subsystem,
// and holds it until t ends.
func Serialize(t testing.TB) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(LockPath), 0o755); err != nil {
		t.Fatalf("audit test lock: %v", err)
	}
	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("audit test lock: %v", err)
	}
	start := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("audit test lock: %v", err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Logf("waited %s for another test process to finish with the audit subsystem", waited.Round(time.Millisecond))
	}
	t.Cleanup(func() { f.Close() }) // closing the last descriptor releases the lock
}
