package main

// The worst case (a storm of hooked execs) and the idle agent.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// worstCase runs the preload storm (every exec an event, with mappings and
// alerts) under hookwatch, a fresh agent each round, and reads its
// counters, CPU and memory: the median round's CPU per 1,000 events (one
// storm's figure moved by a fifth from run to run), the highest peak RSS,
// the events and losses of all rounds. (Latency is not measured:
// documents carry no creation time since issue 14.)
func worstCase(e *env, o options, argv []string) (Worst, error) {
	w := Worst{Execs: o.execs}
	var rates []float64
	for range max(1, o.rounds) {
		s, err := startSensor(e, everyAlert)
		if err != nil {
			return w, err
		}
		time.Sleep(2 * time.Second) // past start-up, as the idle figure
		cpu0 := procCPU(s.cmd.Process.Pid)
		t0 := time.Now()
		if _, err := cpuOf(argv); err != nil {
			s.stop()
			return w, err
		}
		w.ExecsPerSecond = float64(o.execs) / time.Since(t0).Seconds()
		time.Sleep(time.Second) // let the agent catch up
		cpu1 := procCPU(s.cmd.Process.Pid)
		w.PeakRSSMiB = max(w.PeakRSSMiB, peakRSS(s.cmd.Process.Pid))
		final := s.stop()
		num := func(k string) uint64 { f, _ := final[k].(float64); return uint64(f) }
		events := num("written")
		w.Events, w.KernelLost, w.UserspaceDropped = w.Events+events, w.KernelLost+num("kernel_lost"), w.UserspaceDropped+num("agent_dropped")
		if events > 0 {
			rates = append(rates, (cpu1-cpu0)/float64(events)*1000)
		}
	}
	if len(rates) > 0 {
		w.AgentCPURounds = slices.Clone(rates)
		w.AgentCPUPer1000 = summarise(rates).Median
	}
	return w, nil
}

func idle(e *env, d time.Duration) (float64, error) {
	s, err := startSensor(e, everyAlert)
	if err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second) // past start-up
	c0 := procCPU(s.cmd.Process.Pid)
	time.Sleep(d)
	c1 := procCPU(s.cmd.Process.Pid)
	s.stop()
	return (c1 - c0) / d.Seconds() * 100, nil
}

// procCPU is a process's time on CPU in seconds, summed over its threads
// from /proc/PID/task/*/schedstat (nanoseconds: /proc/PID/stat counts whole
// clock ticks, too coarse for an idle agent).
func procCPU(pid int) float64 {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var ns float64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			v, _ := strconv.ParseFloat(fs[0], 64)
			ns += v
		}
	}
	return ns / 1e9
}

func peakRSS(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
