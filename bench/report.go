package main

// The kernel's statistics per program and the printed report.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
)

type progStat struct {
	name string
	ns   time.Duration
	runs uint64
}

// progStats reads every loaded program's run time and count.
func progStats() map[ebpf.ProgramID]progStat {
	out := map[ebpf.ProgramID]progStat{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, _ := p.Info()
		st, err := p.Stats()
		p.Close()
		if err != nil || info == nil {
			continue
		}
		out[id] = progStat{name: info.Name, ns: st.Runtime, runs: st.RunCount}
	}
}

func diff(before, after map[ebpf.ProgramID]progStat) map[string]KStats {
	out := map[string]KStats{}
	for id, a := range after {
		b := before[id]
		runs := a.runs - b.runs
		if runs == 0 || !(strings.HasPrefix(a.name, "handle_") || strings.HasPrefix(a.name, "empty_") || strings.HasPrefix(a.name, "submit_")) {
			continue
		}
		ns := a.ns - b.ns
		out[a.name] = KStats{Runs: runs, NsPerRun: float64(ns.Nanoseconds()) / float64(runs), TotalMsec: float64(ns.Microseconds()) / 1000}
	}
	return out
}

func uname() string {
	var u syscall.Utsname
	syscall.Uname(&u)
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func report(r Results) {
	fmt.Printf("hookwatch benchmark, %s, kernel %s, %d rounds of %d execs\n\n", r.Date, r.Kernel, r.Rounds, r.Execs)
	fmt.Println("CPU of the workload (its processes, user+system) relative to no sensor: median [min, max]")
	fmt.Println("(+daemon: the daemon's own CPU added: hookwatch's agent, auditd)")
	for _, w := range ratioWorkloads {
		for _, c := range slices.Sorted(maps.Keys(r.Ratios[w])) {
			x := r.Ratios[w][c]
			fmt.Printf("  %-26s %-17s %.3f [%.3f, %.3f]\n", w, c, x.Median, x.Min, x.Max)
		}
	}
	if len(r.Output) > 0 {
		fmt.Println("\nWhat hookwatch wrote per 1,000 execs (dlopen storm: per run); the last two at the default output configuration")
		for _, w := range ratioWorkloads {
			x := r.Output[w]
			fmt.Printf("  %-26s %9.1f documents %12.0f bytes %9.1f alerts\n", w, x.Documents, x.Bytes, x.Alerts)
		}
	}
	fmt.Println("\nKernel side (bpf_stats: run_time_ns / run_cnt); unwatched exec storm, the preload storm (delivering), read-only opens of a file and of /proc/self/stat")
	for _, c := range []string{"hookwatch", "hookwatch-delivering", "ref-empty", "ref-submit", "hookwatch-open", "hookwatch-proc-open"} {
		for _, p := range slices.Sorted(maps.Keys(r.Kernel_[c])) {
			k := r.Kernel_[c][p]
			fmt.Printf("  %-21s %-22s %10.1f ns/run  %9d runs\n", c, p, k.NsPerRun, k.Runs)
		}
	}
	if r.Worst.Execs == 0 {
		return // -kernel-only
	}
	w := r.Worst
	fmt.Printf("\nWorst case (every exec preloaded into a watched program): %d execs at %.0f/s, %d rounds\n", w.Execs, w.ExecsPerSecond, len(w.AgentCPURounds))
	fmt.Printf("  events written %d, lost in the kernel %d, dropped in userspace %d\n", w.Events, w.KernelLost, w.UserspaceDropped)
	fmt.Printf("  agent CPU %.3f s per 1000 events (median; rounds %s), peak RSS %.1f MiB\n", w.AgentCPUPer1000, rounds(w.AgentCPURounds), w.PeakRSSMiB)
	fmt.Printf("\nIdle: agent CPU %.3f%%\n", r.IdleCPUPct)
	for _, n := range r.Notes {
		fmt.Println("note:", n)
	}
}

// rounds lists figures as the report prints them.
func rounds(fs []float64) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = fmt.Sprintf("%.3f", f)
	}
	return strings.Join(s, ", ")
}
