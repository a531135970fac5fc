package main

// The conditions a workload runs under (no sensor, hookwatch, auditd, the
// reference programs) and the host set-up some workloads need.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/bench/ref"
)

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
