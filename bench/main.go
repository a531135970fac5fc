// Command bench measures hookwatch side by side with no sensor and with
// auditd, in rounds within one run, and the kernel-side cost of each BPF
// program against two references. `make bench` runs it; it prints a table
// and writes the figures as JSON (-json) so runs can be compared.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	rounds     int
	execs      int
	dlopens    int
	opens      int
	idle       time.Duration
	out        string
	bin        string // a hookwatch binary to measure instead of building the tree's
	kernelOnly bool
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 5, "rounds per workload (conditions alternate within each)")
	flag.IntVar(&o.execs, "execs", 3000, "execs per storm")
	flag.IntVar(&o.dlopens, "dlopens", 20000, "dlopen/dlclose pairs in the mmap storm")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "idle period measured")
	flag.StringVar(&o.out, "json", "bench-results.json", "where to write the figures")
	flag.IntVar(&o.opens, "opens", 500000, "read-only opens per open storm (kernel-side cost of the open handlers)")
	flag.StringVar(&o.bin, "hookwatch", "", "measure this hookwatch binary (e.g. the previous main's) instead of building the tree")
	flag.BoolVar(&o.kernelOnly, "kernel-only", false, "measure only the kernel-side cost per program (bpf_stats)")
	auditStorm := flag.Int("audit-storm", 0, "instead: run this many preloaded ssh -V and /bin/true under the audit collector, CPUs kept busy, and count what it caught")
	flag.Parse()
	if *auditStorm > 0 {
		if err := runAuditStorm(*auditStorm); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Results is what the JSON file holds.
type Results struct {
	Date       string                       `json:"date"`
	Kernel     string                       `json:"kernel"`
	Rounds     int                          `json:"rounds"`
	Execs      int                          `json:"execs_per_storm"`
	Ratios     map[string]map[string]Ratio  `json:"cpu_ratio_vs_none"`     // workload -> condition -> ratio
	Kernel_    map[string]map[string]KStats `json:"kernel_ns_per_run"`     // condition -> program -> stats
	Output     map[string]Output            `json:"output_per_1000_execs"` // workload -> what hookwatch wrote
	Worst      Worst                        `json:"worst_case"`
	IdleCPUPct float64                      `json:"agent_idle_cpu_percent"`
	Notes      []string                     `json:"notes"`
}

// Output is what hookwatch wrote during a workload, per 1,000 execs, over
// all its rounds, at the workload's configuration.
type Output struct {
	Documents float64 `json:"documents"`
	Bytes     float64 `json:"bytes"`
	Alerts    float64 `json:"alerts"`
}

// Ratio summarises per-round ratios.
type Ratio struct{ Median, Min, Max float64 }

// KStats is one program's kernel-side cost.
type KStats struct {
	Runs      uint64  `json:"runs"`
	NsPerRun  float64 `json:"ns_per_run"`
	TotalMsec float64 `json:"total_ms"`
}

// Worst is the worst-case storm under hookwatch.
type Worst struct {
	Execs            int     `json:"execs"`
	ExecsPerSecond   float64 `json:"execs_per_second"`
	Events           uint64  `json:"events_written"`
	KernelLost       uint64  `json:"kernel_lost"`
	UserspaceDropped uint64  `json:"userspace_dropped"`
	AgentCPUPer1000  float64 `json:"agent_cpu_seconds_per_1000_events"`
	// AgentCPURounds is each round's figure (AgentCPUPer1000 their median).
	AgentCPURounds []float64 `json:"agent_cpu_rounds"`
	PeakRSSMiB     float64   `json:"agent_peak_rss_mib"`
}

type env struct {
	dir, hookwatch, storm, dlopen, opens, hook, watched, dlWatched string
	baseEnv                                                        []string
}

func run(o options) error {
	if os.Geteuid() != 0 {
		return errors.New("must be root")
	}
	e, err := setup(o.bin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(e.dir)
	res := Results{Date: time.Now().UTC().Format(time.RFC3339), Kernel: uname(), Rounds: o.rounds, Execs: o.execs,
		Ratios: map[string]map[string]Ratio{}, Kernel_: map[string]map[string]KStats{}}
	conds := []string{"none", "hookwatch", "ref-empty"}
	if _, err := exec.LookPath("auditd"); err == nil {
		conds = append(conds, "auditd")
	} else {
		res.Notes = append(res.Notes, "auditd not installed: no auditd condition (apt-get install auditd)")
	}

	workloads := map[string][]string{
		"unwatched-exec-storm": append([]string{e.storm, strconv.Itoa(o.execs), "/bin/true", "--"}, e.baseEnv...),
		"preload-exec-storm":   append([]string{e.storm, strconv.Itoa(o.execs), e.watched, "--", "LD_PRELOAD=" + e.hook}, e.baseEnv...),
		"dlopen-storm":         {e.dlWatched, strconv.Itoa(o.dlopens), e.hook},
		// Where preloading is ordinary: a build under eatmydata (Debian's
		// package, allowlisted) preloads into every exec; an audited host
		// names a packaged library in /etc/ld.so.preload for every process.
		"allowlisted-preload-storm": append([]string{e.storm, strconv.Itoa(o.execs), "/bin/true", "--", "LD_PRELOAD=libeatmydata.so"}, e.baseEnv...),
		"preload-file-storm":        append([]string{e.storm, strconv.Itoa(o.execs), "/bin/true", "--"}, e.baseEnv...),
		// Ordinary read-only opens, and opens of /proc files (what ps
		// and top do all day): the /proc/PID/mem check must not cost them.
		"open-storm":      {e.opens, strconv.Itoa(o.opens), "/etc/hostname"},
		"proc-open-storm": {e.opens, strconv.Itoa(o.opens), "/proc/self/stat"},
	}
	res.Output = map[string]Output{}
	for _, wname := range ratioWorkloads {
		if o.kernelOnly {
			break
		}
		undo, err := prepare(wname)
		if err != nil {
			return fmt.Errorf("%s: %w", wname, err)
		}
		per := map[string][]float64{}
		var out Output
		for r := 0; r < o.rounds; r++ {
			// Rotate the order so no condition always runs first.
			order := append(append([]string{}, conds[r%len(conds):]...), conds[:r%len(conds)]...)
			cpu, daemon := map[string]float64{}, map[string]float64{}
			for _, c := range order {
				run, err := start(c, e, wname)
				if err != nil {
					undo()
					return fmt.Errorf("%s: %w", c, err)
				}
				t, err := cpuOf(workloads[wname])
				w := run.stop()
				if err != nil {
					undo()
					return fmt.Errorf("%s under %s: %w", wname, c, err)
				}
				cpu[c], daemon[c] = t, w.daemonCPU
				out.Documents += float64(w.docs)
				out.Bytes += float64(w.bytes)
				out.Alerts += float64(w.alerts)
			}
			for _, c := range conds[1:] {
				per[c] = append(per[c], cpu[c]/cpu["none"])
				if c == "hookwatch" || c == "auditd" {
					// The daemon's own CPU too: the agent's work on
					// what the kernel delivered, auditd's writing.
					per[c+"+daemon"] = append(per[c+"+daemon"], (cpu[c]+daemon[c])/cpu["none"])
				}
			}
		}
		undo()
		res.Ratios[wname] = map[string]Ratio{}
		for c, rs := range per {
			res.Ratios[wname][c] = summarise(rs)
		}
		execs := float64(o.rounds * o.execs)
		if wname == "dlopen-storm" {
			execs = float64(o.rounds) // one exec per round
		}
		res.Output[wname] = Output{Documents: out.Documents / execs * 1000, Bytes: out.Bytes / execs * 1000, Alerts: out.Alerts / execs * 1000}
	}

	// Kernel-side cost per program, with the kernel's statistics on.
	if err := os.WriteFile("/proc/sys/kernel/bpf_stats_enabled", []byte("1"), 0); err != nil {
		return fmt.Errorf("enabling bpf_stats: %w", err)
	}
	defer os.WriteFile("/proc/sys/kernel/bpf_stats_enabled", []byte("0"), 0)
	for _, m := range []struct{ cond, workload, label string }{
		{"hookwatch", "unwatched-exec-storm", "hookwatch"},
		{"hookwatch", "preload-exec-storm", "hookwatch-delivering"},
		{"ref-empty", "unwatched-exec-storm", "ref-empty"},
		{"ref-submit", "unwatched-exec-storm", "ref-submit"},
		{"hookwatch", "open-storm", "hookwatch-open"},
		{"hookwatch", "proc-open-storm", "hookwatch-proc-open"},
	} {
		run, err := start(m.cond, e, m.workload)
		if err != nil {
			return err
		}
		before := progStats()
		if _, err := cpuOf(workloads[m.workload]); err != nil {
			run.stop()
			return err
		}
		after := progStats()
		run.stop()
		res.Kernel_[m.label] = diff(before, after)
	}

	if o.kernelOnly {
		report(res)
		return nil
	}
	if res.Worst, err = worstCase(e, o, workloads["preload-exec-storm"]); err != nil {
		return err
	}
	if res.IdleCPUPct, err = idle(e, o.idle); err != nil {
		return err
	}
	report(res)
	b, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(o.out, b, 0o644)
}

func setup(bin string) (*env, error) {
	dir, err := os.MkdirTemp("", "hookwatch-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, hookwatch: bin}
	if bin == "" {
		e.hookwatch = filepath.Join(dir, "hookwatch")
		build := exec.Command("go", "build", "-o", e.hookwatch, "./cmd/hookwatch")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building hookwatch: %v\n%s", err, out)
		}
	}
	e.storm, e.dlopen, e.opens = filepath.Join(dir, "storm"), filepath.Join(dir, "dlopen"), filepath.Join(dir, "opens")
	hookSrc := filepath.Join(dir, "hook.c")
	os.WriteFile(hookSrc, []byte("#include <unistd.h>\nssize_t read(int fd, void *b, size_t n);\nint pam_authenticate(void *h, int f) { return 0; }\n"), 0o644)
	e.hook = filepath.Join(dir, "hook.so")
	for _, c := range [][]string{
		{"gcc", "-O2", "-o", e.storm, "bench/drivers/storm.c"},
		{"gcc", "-O2", "-o", e.dlopen, "bench/drivers/dlopen.c", "-ldl"},
		{"gcc", "-O2", "-o", e.opens, "bench/drivers/opens.c"},
		{"gcc", "-shared", "-fPIC", "-o", e.hook, hookSrc},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%v: %v\n%s", c, err, out)
		}
	}
	// Watched by name: a copy of true called ssh, the dlopen driver called ssh-add.
	e.watched, e.dlWatched = filepath.Join(dir, "ssh"), filepath.Join(dir, "ssh-add")
	for _, cp := range [][2]string{{"/bin/true", e.watched}, {e.dlopen, e.dlWatched}} {
		if out, err := exec.Command("cp", cp[0], cp[1]).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cp: %v %s", err, out)
		}
	}
	// A realistic environment (about 2 KiB) for the in-kernel scan.
	e.baseEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=xterm-256color", "USER=root", "SHELL=/bin/bash"}
	for i := 0; len(strings.Join(e.baseEnv, " ")) < 2048; i++ {
		e.baseEnv = append(e.baseEnv, fmt.Sprintf("APP_SETTING_%02d=%s", i, strings.Repeat("v", 40)))
	}
	return e, nil
}

// cpuOf runs a workload and returns the CPU seconds it and its children
// used (user and system, from wait4): the kernel's work in their execs,
// BPF programs included, counts; the sensor's own process does not.
func cpuOf(argv []string) (float64, error) {
	c := exec.Command(argv[0], argv[1:]...)
	if out, err := c.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%v: %v %s", argv[:2], err, out)
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	return tv(ru.Utime) + tv(ru.Stime), nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func summarise(rs []float64) Ratio {
	sort.Float64s(rs)
	return Ratio{Median: rs[len(rs)/2], Min: rs[0], Max: rs[len(rs)-1]}
}
