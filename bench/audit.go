package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// runAuditStorm measures what the audit collector catches of a storm of
// short-lived preloaded processes on a busy machine: n `ssh -V` (a
// credential program: its library opens are in audit's records) and n
// `/bin/true` (any other program: its loader variable is read from /proc,
// racing the exit).
func runAuditStorm(n int) error {
	if os.Geteuid() != 0 {
		return errors.New("must be root")
	}
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		return fmt.Errorf("ssh is needed: %w", err)
	}
	e, err := setup("")
	if err != nil {
		return err
	}
	defer os.RemoveAll(e.dir)
	// Busy: one CPU hog per core, as the "busy machine".
	if path, err := exec.LookPath("stress-ng"); err == nil {
		busy := exec.Command(path, "--cpu", "0", "--quiet")
		if err := busy.Start(); err != nil {
			return fmt.Errorf("stress-ng: %w", err)
		}
		defer func() { busy.Process.Kill(); busy.Wait() }()
	} else {
		fmt.Println("stress-ng not installed: the machine is not kept busy (apt-get install stress-ng)")
	}
	s, err := startSensor(e, "collector: audit\n", everyAlert)
	if err != nil {
		return err
	}
	for _, w := range [][]string{
		{e.storm, strconv.Itoa(n), ssh, "-V", "--", "LD_PRELOAD=" + e.hook},
		{e.storm, strconv.Itoa(n), "/bin/true", "--", "LD_PRELOAD=" + e.hook},
	} {
		if out, err := exec.Command(w[0], w[1:]...).CombinedOutput(); err != nil {
			s.stop()
			return fmt.Errorf("%v: %v %s", w, err, out)
		}
	}
	// Settled when nothing new was written for two seconds.
	for last := int64(-1); ; time.Sleep(2 * time.Second) {
		fi, err := os.Stat(s.out)
		if err == nil && fi.Size() == last {
			break
		}
		if err == nil {
			last = fi.Size()
		}
	}
	final := s.stop()
	caught, err := alertedPIDs(s.out)
	if err != nil {
		return err
	}
	fmt.Printf("audit collector, %d preloaded execs each, CPUs busy:\n", n)
	fmt.Printf("  ssh -V (credential program): alert for %d of %d (%.1f %%)\n", caught["ssh"], n, 100*float64(caught["ssh"])/float64(n))
	fmt.Printf("  /bin/true (other program):   alert for %d of %d (%.1f %%)\n", caught["true"], n, 100*float64(caught["true"])/float64(n))
	fmt.Printf("  final counters: %v\n", final)
	return nil
}

// alertedPIDs counts, per process name, the processes with at least one
// alert (every alert of this run is about the hook library).
func alertedPIDs(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type doc struct {
		Event struct {
			Kind string `json:"kind"`
		} `json:"event"`
		Process struct {
			PID  int    `json:"pid"`
			Name string `json:"name"`
		} `json:"process"`
	}
	seen := map[string]map[int]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d doc
		if json.Unmarshal(sc.Bytes(), &d) != nil || d.Event.Kind != "alert" {
			continue
		}
		if seen[d.Process.Name] == nil {
			seen[d.Process.Name] = map[int]bool{}
		}
		seen[d.Process.Name][d.Process.PID] = true
	}
	out := map[string]int{}
	for name, pids := range seen {
		out[name] = len(pids)
	}
	return out, sc.Err()
}
