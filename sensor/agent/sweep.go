package agent

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/sweep"
)

// sweep hands the queue what the startup sweep forges for the processes
// running before the sensor (sensor/sweep), as if the kernel had reported
// them.
func (a *Agent) sweep(ctx context.Context, c Collector) {
	cfg := sweep.Config{Proc: a.cfg.Proc, Rules: a.cfg.Rules, Self: uint32(os.Getpid())}
	n, err := sweep.Run(ctx, cfg, c, func(e *event.Exec, images []*event.ImageLoad) {
		a.enqueueWait(item{exec: e})
		for _, il := range images {
			a.enqueueWait(item{image: il})
		}
	}, func(pid uint32, err error) {
		a.log.WithError(err).WithField("pid", pid).Warn("cannot watch a running process")
	})
	a.stats.Swept.Add(uint64(n))
	if err != nil {
		a.log.WithError(err).Warn("startup sweep skipped")
	}
}

// enqueueWait queues without dropping: the sweep and the configuration
// watcher are not the kernel reader, they can wait.
func (a *Agent) enqueueWait(it item) {
	a.queue <- it
}

// bootTime is the wall-clock time of boot, for turning start times since
// boot into dates.
func bootTime() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
}
