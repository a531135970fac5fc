package audit

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// ErrInUse is returned by New when another hookwatch holds the audit
// collector on this host.
var ErrInUse = errors.New("another hookwatch is using the audit collector on this host")

// lockName is an abstract unix socket name: only one process can bind it,
// and the kernel lets it go when that process exits, however it exits, so
// no stale lock file survives a crash and no writable directory is needed.
const lockName = "@hookwatch-audit-collector"

// instanceLock makes sure one hookwatch at a time owns hookwatch's audit
// rules. Rules are found by their key at start and removed at exit: two
// instances would delete each other's rules (and take the stream from each
// other), so the second waits up to wait for the first to go (a restart
// overlapping the old process's exit), then gives up with ErrInUse.
func instanceLock(wait time.Duration) (fd int, err error) {
	deadline := time.Now().Add(wait)
	for {
		fd, err = syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("audit instance lock: %w", err)
		}
		err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: lockName})
		if err == nil {
			return fd, nil
		}
		syscall.Close(fd)
		if !errors.Is(err, syscall.EADDRINUSE) {
			return -1, fmt.Errorf("audit instance lock: %w", err)
		}
		if !time.Now().Before(deadline) {
			return -1, ErrInUse
		}
		time.Sleep(100 * time.Millisecond)
	}
}
