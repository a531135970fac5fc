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
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hookwatch/hookwatch/bench/ref"
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
	LatencyP50ms     float64 `json:"latency_p50_ms"`
	LatencyP99ms     float64 `json:"latency_p99_ms"`
	AgentCPUPer1000  float64 `json:"agent_cpu_seconds_per_1000_events"`
	PeakRSSMiB       float64 `json:"agent_peak_rss_mib"`
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

// everyAlert writes every alert (no folding): the figures are per
// document, as in earlier runs, and the storms measure the whole path.
const everyAlert = "output:\n  fold_window: 0s\n"

// ratioWorkloads are measured under every condition, in rounds.
var ratioWorkloads = []string{"unwatched-exec-storm", "preload-exec-storm", "dlopen-storm", "allowlisted-preload-storm", "preload-file-storm"}

// atDefaults are the workloads measured at hookwatch's default output
// configuration (repeats folded, ordinary preloaders summarized): what
// they measure is what a host with that workload pays. The others write
// every alert, as in earlier runs, so the whole path is measured.
var atDefaults = map[string]bool{"allowlisted-preload-storm": true, "preload-file-storm": true}

// preloadFileLibrary is the packaged library the preload-file storm names
// in /etc/ld.so.preload (libjemalloc2: harmless in every process).
const preloadFileLibrary = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

// prepare sets the host up for a workload and returns how to undo it.
func prepare(workload string) (func(), error) {
	switch workload {
	case "allowlisted-preload-storm":
		if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libeatmydata.so"); err != nil {
			return nil, errors.New("libeatmydata is needed: apt-get install eatmydata (make deps)")
		}
	case "preload-file-storm":
		if _, err := os.Stat(preloadFileLibrary); err != nil {
			return nil, errors.New("libjemalloc2 is needed: apt-get install libjemalloc2 (make deps)")
		}
		const f = "/etc/ld.so.preload"
		old, err := os.ReadFile(f)
		existed := err == nil
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if err := os.WriteFile(f, []byte(preloadFileLibrary+"\n"), 0o644); err != nil {
			return nil, err
		}
		return func() {
			if existed {
				os.WriteFile(f, old, 0o644)
			} else {
				os.Remove(f)
			}
		}, nil
	}
	return func() {}, nil
}

// running is a condition brought up for one workload.
type running struct {
	stop func() ran
}

// ran is what a condition did during a workload.
type ran struct {
	daemonCPU           float64 // the daemon's CPU seconds (hookwatch, auditd)
	docs, bytes, alerts int     // what hookwatch wrote
}

// start brings a condition up for a workload.
func start(cond string, e *env, workload string) (running, error) {
	switch cond {
	case "none":
		return running{stop: func() ran { return ran{} }}, nil
	case "hookwatch":
		var extra []string
		if !atDefaults[workload] {
			extra = append(extra, everyAlert)
		}
		s, err := startSensor(e, extra...)
		if err != nil {
			return running{}, err
		}
		// Settled: the reports at start are not the workload's.
		time.Sleep(300 * time.Millisecond)
		docs0, bytes0, alerts0 := countOutput(s.out)
		cpu0 := procCPU(s.cmd.Process.Pid)
		return running{stop: func() ran {
			s.stop() // the agent writes what it has before it exits
			docs, bytes, alerts := countOutput(s.out)
			return ran{daemonCPU: exitCPU(s.cmd) - cpu0, docs: docs - docs0, bytes: bytes - bytes0, alerts: alerts - alerts0}
		}}, nil
	case "ref-empty", "ref-submit":
		a, err := ref.Attach(strings.TrimPrefix(cond, "ref-"))
		if err != nil {
			return running{}, err
		}
		return running{stop: func() ran { a.Close(); return ran{} }}, nil
	case "auditd":
		d, err := startAuditd()
		if err != nil {
			return running{}, err
		}
		cpu0 := procCPU(d.Process.Pid)
		return running{stop: func() ran {
			stopAuditd(d)
			return ran{daemonCPU: exitCPU(d) - cpu0}
		}}, nil
	}
	return running{}, fmt.Errorf("unknown condition %s", cond)
}

// exitCPU is an exited child's CPU seconds (user and system).
func exitCPU(c *exec.Cmd) float64 {
	if c.ProcessState == nil {
		return 0
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	return tv(ru.Utime) + tv(ru.Stime)
}

// countOutput counts the documents, bytes and alerts in a file of JSON
// lines (only whole lines).
func countOutput(path string) (docs, bytes, alerts int) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		docs++
		bytes += len(line)
		if strings.Contains(line, `"kind":"alert"`) {
			alerts++
		}
	}
	return docs, bytes, alerts
}

type sensor struct {
	cmd    *exec.Cmd
	out    string
	stderr *strings.Builder
}

// startSensor runs hookwatch writing to a file of its own; extra is added
// to its configuration.
func startSensor(e *env, extra ...string) (*sensor, error) {
	s := &sensor{out: filepath.Join(e.dir, fmt.Sprintf("events-%d.json", time.Now().UnixNano())), stderr: &strings.Builder{}}
	conf := filepath.Join(e.dir, "hookwatch.yaml")
	os.WriteFile(conf, []byte("log:\n  format: json\nmetrics:\n  listen: \"\"\n  bpf_stats: false\n"+strings.Join(extra, "")), 0o600)
	s.cmd = exec.Command(e.hookwatch, "run", "-config", conf, "-output", s.out, "-stats-interval", "0", "-no-sweep")
	s.cmd.Stderr = &lockedWriter{b: s.stderr}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.cmd.Stderr.(*lockedWriter).String(), "hookwatch running") {
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			return nil, fmt.Errorf("hookwatch did not start: %s", s.cmd.Stderr.(*lockedWriter).String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

func (s *sensor) stop() map[string]any {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	for _, l := range strings.Split(s.cmd.Stderr.(*lockedWriter).String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "final counters" {
			return m
		}
	}
	return nil
}

func startAuditd() (*exec.Cmd, error) {
	d := exec.Command("auditd", "-n")
	if err := d.Start(); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	for _, r := range [][]string{
		{"-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", "hwbench"},
		{"-w", "/etc/ld.so.preload", "-p", "wa", "-k", "hwbench"},
	} {
		if out, err := exec.Command("auditctl", r...).CombinedOutput(); err != nil {
			d.Process.Kill()
			d.Wait()
			return nil, fmt.Errorf("auditctl %v: %v %s", r, err, out)
		}
	}
	return d, nil
}

func stopAuditd(d *exec.Cmd) {
	exec.Command("auditctl", "-D", "-k", "hwbench").Run()
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()
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
	fmt.Printf("\nWorst case (every exec preloaded into a watched program): %d execs at %.0f/s\n", w.Execs, w.ExecsPerSecond)
	fmt.Printf("  events written %d, lost in the kernel %d, dropped in userspace %d\n", w.Events, w.KernelLost, w.UserspaceDropped)
	if w.LatencyP50ms > 0 {
		fmt.Printf("  latency exec -> event: p50 %.2f ms, p99 %.2f ms\n", w.LatencyP50ms, w.LatencyP99ms)
	}
	fmt.Printf("  agent CPU %.3f s per 1000 events, peak RSS %.1f MiB\n", w.AgentCPUPer1000, w.PeakRSSMiB)
	fmt.Printf("\nIdle: agent CPU %.3f%%\n", r.IdleCPUPct)
	for _, n := range r.Notes {
		fmt.Println("note:", n)
	}
}
