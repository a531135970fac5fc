package probe

// Waiting for records in the Go poller, not in a blocking system call.

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ringWaiter waits for the ring buffer to hold records with the ring's fd
// in the Go runtime's poller. The reader's own wait is a blocking
// epoll_wait, and a goroutine blocked in a system call holds its P: while
// the agent is busy, the runtime's monitor (sysmon) takes the P back and
// keeps waking every 20 µs to do so, 15-18% of the agent's CPU in a storm.
// Parked in the poller, the goroutine holds nothing.
type ringWaiter struct {
	f  *os.File // a duplicate of the ring's fd, non-blocking
	rc syscall.RawConn
	// woken asks the next wait not to sleep: a Flush wants what is in the
	// ring now, and the reader's flush event is read by its own epoll.
	woken atomic.Bool
}

func newRingWaiter(fd int) (*ringWaiter, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicating the ring buffer's fd: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("ring buffer fd: %w", err)
	}
	f := os.NewFile(uintptr(dup), "ringbuf")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ring buffer fd: %w", err)
	}
	return &ringWaiter{f: f, rc: rc}, nil
}

// wait returns when ready says records are there, when the ring wakes
// readers (which also lets mapping records that did not wake it be read),
// after at most d, or at once after wake. An error is a closed waiter.
func (w *ringWaiter) wait(d time.Duration, ready func() bool) error {
	if err := w.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if w.woken.Swap(false) {
		return nil
	}
	err := w.rc.Read(func(uintptr) bool { return ready() })
	if err == nil || os.IsTimeout(err) {
		return nil
	}
	return err
}

// wake ends a wait now, or makes the next one not sleep.
func (w *ringWaiter) wake() {
	w.woken.Store(true)
	w.f.SetReadDeadline(time.Now())
}

func (w *ringWaiter) close() error { return w.f.Close() }
