package probe

// The kernel's counters and the programs' run-time statistics.

import (
	"fmt"
	"reflect"

	"github.com/cilium/ebpf"

	"github.com/hookwatch/hookwatch/sensor/event"
)

// Stats sums the kernel's per-CPU counters, with the userspace decode errors.
func (p *Probe) Stats() (event.Stats, uint64, error) {
	var s event.Stats
	fields := map[hookwatchStatIndex]*uint64{
		hookwatchStatIndexSTAT_EXECS:         &s.Execs,
		hookwatchStatIndexSTAT_EXEC_EVENTS:   &s.ExecEvents,
		hookwatchStatIndexSTAT_MAP_EVENTS:    &s.MapEvents,
		hookwatchStatIndexSTAT_LOST_EXEC:     &s.LostExec,
		hookwatchStatIndexSTAT_LOST_MAP:      &s.LostMap,
		hookwatchStatIndexSTAT_WATCH_FULL:    &s.WatchFull,
		hookwatchStatIndexSTAT_ENV_TRUNC:     &s.EnvTrunc,
		hookwatchStatIndexSTAT_FILE_EVENTS:   &s.FileEvents,
		hookwatchStatIndexSTAT_LOST_FILE:     &s.LostFile,
		hookwatchStatIndexSTAT_ACCESS_EVENTS: &s.AccessEvents,
		hookwatchStatIndexSTAT_LOST_ACCESS:   &s.LostAccess,
		hookwatchStatIndexSTAT_ACCESS_OTHER:  &s.AccessOther,
		hookwatchStatIndexSTAT_ACCESS_DENIED: &s.AccessDenied,
		hookwatchStatIndexSTAT_VOUCHED:       &s.Vouched,
	}
	for idx, dst := range fields {
		var perCPU []uint64
		if err := p.objs.Stats.Lookup(uint32(idx), &perCPU); err != nil {
			return s, 0, fmt.Errorf("reading kernel counter %d: %w", idx, err)
		}
		for _, v := range perCPU {
			*dst += v
		}
	}
	return s, p.dec.errors.Load(), nil
}

// Programs lists the loaded programs by name, for run-time statistics.
func (p *Probe) Programs() map[string]*ebpf.Program {
	out := map[string]*ebpf.Program{}
	v := reflect.ValueOf(p.objs.hookwatchPrograms)
	for i := 0; i < v.NumField(); i++ {
		if prog, ok := v.Field(i).Interface().(*ebpf.Program); ok && prog != nil {
			out[v.Type().Field(i).Tag.Get("ebpf")] = prog
		}
	}
	return out
}
