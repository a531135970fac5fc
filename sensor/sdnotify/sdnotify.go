// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): READY=1 once the probes are attached, WATCHDOG=1 while
// the agent is alive, RELOADING=1 and STOPPING=1 around reloads and exit.
// Without NOTIFY_SOCKET (not under systemd) every call does nothing.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends states to systemd.
type Notifier struct {
	socket string
}

// New returns a notifier for the socket systemd passed, if any.
func New() *Notifier {
	return &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
}

// Enabled reports whether systemd listens.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// Notify sends one state string ("READY=1", "STATUS=...").
func (n *Notifier) Notify(state string) error {
	if n.socket == "" {
		return nil
	}
	addr := &net.UnixAddr{Name: n.socket, Net: "unixgram"}
	if addr.Name[0] == '@' {
		addr.Name = "\x00" + addr.Name[1:] // abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}

// WatchdogInterval is how often to ping the watchdog (half of WatchdogSec),
// or 0 when systemd set no watchdog for this process.
func WatchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}
