package agent

// Verdicts the kernel reuses (issue: cheap where preloading is normal). An
// exec of a program that handles no credentials, whose one loader variable
// names only libraries an allowlist entry vouches for, raises nothing and
// says nothing new the next time: the agent hands the verdict to the
// collector, which then counts such execs instead of delivering them, and
// the agent writes one summary per (program, variable) and interval with
// the exact count. Every verdict is dropped (its count reported) when
// anything it rests on changes: one of the library files, the loader's
// configuration, the rules.

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// Voucher is a collector that reuses the agent's verdicts (eBPF).
type Voucher interface {
	Vouch(comm, env string) error
	Vouched() ([]event.Vouched, error)
	ForgetVouched() ([]event.Vouched, error)
}

// maxVouchedFiles bounds the library files verdicts may rest on.
const maxVouchedFiles = 256

type vouchKey struct{ comm, env string }

// vouching is the worker's: only the agent's worker goroutine touches it.
type vouching struct {
	v        Voucher
	every    time.Duration
	since    time.Time           // start of the interval being counted
	reported map[vouchKey]uint64 // the kernel's counts already summarized
	// delivered counts the vouched execs the kernel delivered (before it
	// had the verdict, or when it could not take it), since the last summary.
	delivered map[vouchKey]uint64
	watch     *fsnotify.Watcher
	files     map[string]bool
}

// startVouching sets up verdict reuse when the collector can do it and
// telemetry is not "all" (which asks for every exec). Changes to the files
// the verdicts rest on come back through the queue.
func (a *Agent) startVouching(c Collector) {
	v, ok := c.(Voucher)
	if !ok || a.cfg.Telemetry == TelemetryAll || a.cfg.VouchSummary <= 0 {
		return
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.log.WithError(err).Warn("not reusing verdicts in the kernel: no file watcher")
		return
	}
	a.vouch = &vouching{v: v, every: a.cfg.VouchSummary, since: time.Now(), reported: map[vouchKey]uint64{}, delivered: map[vouchKey]uint64{}, watch: w, files: map[string]bool{}}
	go func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Op&(fsnotify.Write|fsnotify.Remove|fsnotify.Rename|fsnotify.Chmod|fsnotify.Create) != 0 {
					a.enqueue(item{forget: "library " + ev.Name + " changed"})
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflow may hide a change: forget everything.
				a.enqueue(item{forget: "file watch: " + err.Error()})
			}
		}
	}()
}

func (a *Agent) stopVouching() {
	if a.vouch == nil {
		return
	}
	a.vouch.watch.Close()
	a.summarizeVouched(true)
}

// vouchable says whether the kernel may count this exec's repeats: no
// alert, a program that handles no credentials run by the system loader,
// on the host, with exactly one loader variable whose every library an
// allowlist entry vouches for.
func (a *Agent) vouchable(p *proctable.Process, e *event.Exec, ev *detect.Event, alerts int) bool {
	if a.vouch == nil || alerts > 0 || p.Credential || e.Watch != event.WatchLoaderEnv || e.OddInterpreter || e.LoaderLike ||
		e.EnvTruncated || e.EnvUnreadable || e.LoaderEnvTruncated || e.FromSweep || p.Container.ID != "" ||
		len(e.LoaderEnv) != 1 || len(ev.Libraries) == 0 || ev.Credential {
		return false
	}
	for _, l := range ev.Libraries {
		if l.Trust != detect.TrustAllowlisted || !strings.HasPrefix(l.Path, "/") {
			return false
		}
	}
	return true
}

// vouchFor counts the exec into its summary, hands the verdict to the
// collector and watches the files it rests on.
func (a *Agent) vouchFor(p *proctable.Process, e *event.Exec, ev *detect.Event) {
	vs := a.vouch
	vs.delivered[vouchKey{e.Comm, e.LoaderEnv[0]}]++
	p.Vouched = p.Vouched[:0]
	for _, l := range ev.Libraries {
		p.Vouched = append(p.Vouched, l.Path)
	}
	if len(vs.files)+len(ev.Libraries) > maxVouchedFiles {
		return
	}
	for _, l := range ev.Libraries {
		if !vs.files[l.Path] {
			if err := vs.watch.Add(l.Path); err != nil {
				return // a file we cannot watch is judged every time
			}
			vs.files[l.Path] = true
		}
	}
	if err := vs.v.Vouch(e.Comm, e.LoaderEnv[0]); err != nil {
		a.log.WithError(err).Debug("verdict not handed to the kernel")
	}
}

// forgetVouched drops every verdict, reporting what was counted under it.
func (a *Agent) forgetVouched(why string) {
	vs := a.vouch
	if vs == nil {
		return
	}
	all, err := vs.v.ForgetVouched()
	if err != nil {
		a.log.WithError(err).Warn("forgetting the kernel's verdicts")
	}
	a.writeSummaries(all, time.Now())
	clear(vs.reported)
	for f := range vs.files {
		vs.watch.Remove(f)
	}
	clear(vs.files)
	if len(all) > 0 {
		a.log.WithFields(map[string]any{"verdicts": len(all), "why": why}).Debug("kernel verdicts dropped")
	}
}

// summarizeVouched writes the interval's summaries when it has ended (or
// now, with force).
func (a *Agent) summarizeVouched(force bool) {
	vs := a.vouch
	now := time.Now()
	if vs == nil || (!force && now.Sub(vs.since) < vs.every) {
		return
	}
	all, err := vs.v.Vouched()
	if err != nil {
		a.log.WithError(err).Warn("reading the kernel's verdicts")
		return
	}
	a.writeSummaries(all, now)
}

// writeSummaries writes one summary per (program, variable) with what the
// kernel counted since the last one and what was delivered and vouched.
func (a *Agent) writeSummaries(all []event.Vouched, now time.Time) {
	vs := a.vouch
	counts := map[vouchKey]uint64{}
	for _, v := range all {
		k := vouchKey{v.Comm, v.Env}
		if v.Count > vs.reported[k] {
			counts[k] += v.Count - vs.reported[k]
		}
		vs.reported[k] = v.Count
	}
	for k, n := range vs.delivered {
		counts[k] += n
	}
	clear(vs.delivered)
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(x, y vouchKey) int {
		return cmp.Or(cmp.Compare(x.comm, y.comm), cmp.Compare(x.env, y.env))
	}) {
		a.stats.VouchedExecs.Add(counts[k])
		if a.cfg.Telemetry != TelemetryNone {
			a.write(a.enc.VouchedSummary(event.Vouched{Comm: k.comm, Env: k.env, Count: counts[k]}, vs.since, now))
		}
	}
	vs.since = now
}
