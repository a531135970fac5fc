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
	"fmt"
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
	// Quiet is a host on which no test attacks: the benign replay holds
	// it alone (Hold) while it counts the alerts of the whole host; test
	// packages that run attacks share it (Share) for their whole run.
	Quiet = "quiet"
	// Booted is the host without a booted container on it: the systemd
	// host test holds it alone while its container runs (every process in
	// it is the host's too, and the host's sensors in the end-to-end tests
	// would see its programs and its attacks); the end-to-end tests share
	// it. Taken before Quiet and Audit.
	Booted = "booted"
)

// Dir is where the lock files are.
const Dir = "/run/lock"

// Hold blocks until no other test process holds the resource, and holds
// it until t ends.
func Hold(t testing.TB, resource string) {
	t.Helper()
	start := time.Now()
	f, err := lock(resource, syscall.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Logf("waited %s for another test process to finish with %s", waited.Round(time.Millisecond), resource)
	}
	t.Cleanup(func() { f.Close() }) // closing the last descriptor releases the lock
}

// Share holds the resource together with other sharers, not while one
// test holds it alone, for a whole test binary (from TestMain); it returns
// the release.
func Share(resource string) (release func(), err error) {
	f, err := lock(resource, syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// MainSharing runs a test binary's tests holding resource shared (call it
// from TestMain: os.Exit(testlock.MainSharing(m, testlock.Quiet))).
func MainSharing(m *testing.M, resource string) int {
	release, err := Share(resource)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer release()
	return m.Run()
}

func lock(resource string, how int) (*os.File, error) {
	path := filepath.Join(Dir, "hookwatch-test-"+resource+".lock")
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return nil, fmt.Errorf("test lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("test lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("test lock %s: %w", path, err)
	}
	return f, nil
}
