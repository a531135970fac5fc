package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/sensor/daemon"
)

// reloadCommand is the unit's ExecReload: it signals the daemon and waits
// for its answer, so `systemctl reload` fails when a drop-in is refused and
// needs no /bin/kill (procps) on the host.
func reloadCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the daemon's answer")
	runDir := fs.String("run-dir", daemon.RunDir, "where the daemon writes its reload status")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("reload: want the daemon's PID (the unit passes $MAINPID)")}
	}
	pid, err := strconv.Atoi(fs.Arg(0))
	if err != nil || pid <= 0 {
		return usageError{fmt.Errorf("reload: %q is not a process ID", fs.Arg(0))}
	}
	hup := func(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
	if err := daemon.Reload(*runDir, pid, hup, *timeout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hookwatch %d: configuration reloaded\n", pid)
	return nil
}
