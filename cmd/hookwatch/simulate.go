package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/sensor/config"
)

// A scenario is one harmless attack on the local host, in the spirit of
// Atomic Red Team's T1574.006 tests: it does what an attacker would do,
// with a copy of a system library in place of a hook, and is reported when
// the running daemon raises one of the rules it names.
type scenario struct {
	name, what string
	rules      []string // Sigma rule ids (rules/sigma), any of which reports it
	run        func(s *simHost) error
	skip       func(s *simHost) string // why it cannot run here, or ""
}

// Rule ids by file name in rules/sigma (checked by a test).
const (
	ruleLoaderVarCredUntrusted = "cefa3a69-8e81-459e-9e6e-359188a9a8fe" // proc_loader_variable_credential_untrusted
	ruleLoaderVarCred          = "41975aad-2886-4789-a4f6-b6565e608aa2" // proc_loader_variable_credential
	ruleImageUntrusted         = "43b3b1a1-c9b0-477e-af7a-3ca9dad473dd" // image_unexpected_library_untrusted
	ruleImageUnexpected        = "dd2f4182-9ec0-4b18-b790-ad27f5d9575e" // image_unexpected_library
	ruleAltLoaderCred          = "6f05c724-6e80-4e83-b220-8f3066e89011" // proc_alternate_loader_credential
	ruleLoaderVarInUnit        = "2df9ab75-398b-4c93-a71c-92f9c65a59cd" // file_loader_variable_in_environment
	ruleMemoryRead             = "a221cfd0-050d-4cf8-af40-35567b4cc21e" // proc_access_credential_read
)

var scenarios = []scenario{
	{
		name: "preload-into-ssh", what: "LD_PRELOAD of a library copied to a temporary directory into ssh -V",
		rules: []string{ruleLoaderVarCredUntrusted, ruleLoaderVarCred, ruleImageUntrusted, ruleImageUnexpected},
		run: func(s *simHost) error {
			return s.command([]string{"LD_PRELOAD=" + s.lib}, s.ssh, "-V")
		},
	},
	{
		name: "audit-into-ssh", what: "LD_AUDIT naming the same copy, into ssh -V",
		rules: []string{ruleLoaderVarCredUntrusted, ruleLoaderVarCred, ruleImageUntrusted, ruleImageUnexpected},
		run: func(s *simHost) error {
			return s.command([]string{"LD_AUDIT=" + s.lib}, s.ssh, "-V")
		},
	},
	{
		name: "loader-preload-flag", what: "the dynamic loader run directly: ld.so --preload COPY ssh -V",
		// --preload is judged as the loader's variable is (the same
		// library, the same target); the library's mapping is often not
		// seen apart from it, ssh -V being gone that fast.
		rules: []string{ruleLoaderVarCredUntrusted, ruleLoaderVarCred, ruleAltLoaderCred, ruleImageUntrusted, ruleImageUnexpected},
		run: func(s *simHost) error {
			return s.command(nil, s.loader, "--preload", s.lib, s.ssh, "-V")
		},
		skip: func(s *simHost) string {
			if s.loader == "" {
				return "no dynamic loader at a known path for " + runtime.GOARCH
			}
			return ""
		},
	},
	{
		name: "unit-drop-in", what: "a drop-in for a unit that does not exist, setting LD_PRELOAD (in /run/systemd/system)",
		rules: []string{ruleLoaderVarInUnit},
		run: func(s *simHost) error {
			dir := filepath.Join("/run/systemd/system", "hookwatch-simulate-"+strconv.Itoa(os.Getpid())+".service.d")
			s.undo = append(s.undo, func() { os.RemoveAll(dir) })
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "50-preload.conf"), []byte("[Service]\nEnvironment=LD_PRELOAD="+s.lib+"\n"), 0o644)
		},
		skip: func(*simHost) string {
			if _, err := os.Stat("/run/systemd/system"); err != nil {
				return "systemd is not running here"
			}
			return ""
		},
	},
	{
		name: "read-ssh-agent-memory", what: "an ssh-agent started for the test (and left to run on its own), its stack read through /proc/PID/mem",
		rules: []string{ruleMemoryRead},
		run:   readAgentMemory,
		skip: func(s *simHost) string {
			if s.agent == "" {
				return "no ssh-agent installed"
			}
			return ""
		},
	},
}

// simHost is what the scenarios share: a private directory with the copy
// of a system library, the programs they run, and what undoes their traces.
type simHost struct {
	dir, lib, ssh, agent, loader string
	undo                         []func()
}

func (s *simHost) command(env []string, name string, args ...string) error {
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), env...)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func simulateCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	configFile := fs.String("config", config.DefaultFile, "the daemon's configuration `file` (for metrics.listen)")
	metricsURL := fs.String("metrics", "", "the daemon's metrics `URL` (default: from metrics.listen)")
	timeout := fs.Duration("timeout", 20*time.Second, "how long to wait for each report")
	only := fs.String("only", "", "run only this scenario")
	list := fs.Bool("list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *list {
		for _, sc := range scenarios {
			fmt.Fprintf(stdout, "%-22s %s\n", sc.name, sc.what)
		}
		return nil
	}
	url := *metricsURL
	if url == "" {
		cfg, _, err := config.Load(*configFile, "", false)
		if err != nil {
			return usageError{err}
		}
		if cfg.Metrics.Listen == "" {
			return usageError{errors.New("simulate: metrics are off (metrics.listen): name the daemon's endpoint with -metrics URL")}
		}
		url = "http://" + cfg.Metrics.Listen + "/metrics"
	}
	if os.Geteuid() != 0 {
		return errors.New("simulate: run as root (the scenarios write under /run and read another process's memory)")
	}
	s, err := newSimHost()
	if err != nil {
		return err
	}
	defer s.cleanup()

	failed := 0
	for _, sc := range scenarios {
		if *only != "" && sc.name != *only {
			continue
		}
		if sc.skip != nil {
			if why := sc.skip(s); why != "" {
				fmt.Fprintf(stdout, "SKIP  %-22s %s\n", sc.name, why)
				continue
			}
		}
		took, err := runScenario(s, sc, url, *timeout)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL  %-22s %v\n", sc.name, err)
			continue
		}
		fmt.Fprintf(stdout, "PASS  %-22s reported in %s\n", sc.name, took.Round(10*time.Millisecond))
	}
	if failed > 0 {
		return fmt.Errorf("simulate: %d scenario(s) not reported by the daemon at %s", failed, url)
	}
	return nil
}

// runScenario runs one attack and waits until the daemon's count of one of
// its rules goes up.
func runScenario(s *simHost, sc scenario, url string, timeout time.Duration) (time.Duration, error) {
	before, err := detections(url)
	if err != nil {
		return 0, fmt.Errorf("no daemon answers: %w", err)
	}
	start := time.Now()
	if err := sc.run(s); err != nil {
		return 0, fmt.Errorf("running it: %w", err)
	}
	for time.Since(start) < timeout {
		time.Sleep(100 * time.Millisecond)
		now, err := detections(url)
		if err != nil {
			continue // restarting; try again until the deadline
		}
		for _, id := range sc.rules {
			if now[id] > before[id] {
				return time.Since(start), nil
			}
		}
	}
	return 0, fmt.Errorf("not reported within %s", timeout)
}

// detections reads hookwatch_detections_total by rule id.
func detections(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "hookwatch_detections_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		_, id, ok := strings.Cut(labels, `rule_id="`)
		if !ok {
			continue
		}
		id, _, _ = strings.Cut(id, `"`)
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err == nil {
			out[id] += v
		}
	}
	return out, sc.Err()
}

func newSimHost() (*simHost, error) {
	s := &simHost{}
	dir, err := os.MkdirTemp("", "hookwatch-simulate-")
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	s.dir = dir
	s.undo = append(s.undo, func() { os.RemoveAll(dir) })
	src, err := systemLibrary()
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.lib = filepath.Join(dir, filepath.Base(src))
	// The copy ends with this run's name, so its digest is this run's own:
	// the daemon folds repeats of an alert (same rule, library digest and
	// target) for output.fold_window, and an operator who runs simulate
	// twice to test the way to the SIEM must see an alert arrive each time.
	if err := copyFile(src, s.lib, "\x00hookwatch simulate "+filepath.Base(dir)+"\n"); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("simulate: copying %s: %w", src, err)
	}
	if s.ssh, err = exec.LookPath("ssh"); err != nil {
		s.cleanup()
		return nil, errors.New("simulate: no ssh client installed (every scenario but one runs ssh -V)")
	}
	s.agent, _ = exec.LookPath("ssh-agent")
	for _, l := range loaderPaths[runtime.GOARCH] {
		if _, err := os.Stat(l); err == nil {
			s.loader = l
			break
		}
	}
	return s, nil
}

func (s *simHost) cleanup() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

var loaderPaths = map[string][]string{
	"amd64": {"/lib64/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2"},
	"arm64": {"/lib/ld-linux-aarch64.so.1", "/usr/lib/ld-linux-aarch64.so.1"},
}

var multiarch = map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}

// systemLibrary finds libz, which every ssh client links: a harmless
// library to preload, whose copy outside a system directory is what hooks
// look like to the sensor.
func systemLibrary() (string, error) {
	for _, d := range []string{"/usr/lib/" + multiarch[runtime.GOARCH], "/lib/" + multiarch[runtime.GOARCH], "/usr/lib64", "/lib64"} {
		p := filepath.Join(d, "libz.so.1")
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return real, nil
		}
	}
	return "", errors.New("simulate: no libz.so.1 found to copy")
}

// copyFile copies src to dst with trailer appended: bytes past an ELF
// file's last section, which the loader never reads.
func copyFile(src, dst, trailer string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, append(b, trailer...), 0o755)
}

// readAgentMemory starts an ssh-agent that daemonizes (so the reader is a
// stranger to it, not the parent that started it: that would be a
// debugger), and reads a page of its stack through /proc/PID/mem: what
// mimipenguin does.
func readAgentMemory(s *simHost) error {
	sock := filepath.Join(s.dir, "agent.sock")
	out, err := exec.Command(s.agent, "-s", "-a", sock).Output()
	if err != nil {
		return fmt.Errorf("starting ssh-agent: %w", err)
	}
	pid := agentPID(string(out))
	if pid <= 0 {
		return fmt.Errorf("no SSH_AGENT_PID in %q", out)
	}
	s.undo = append(s.undo, func() { syscall.Kill(pid, syscall.SIGTERM) })
	addr, err := stackAddress(pid)
	if err != nil {
		return err
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, int64(addr)); err != nil {
		return fmt.Errorf("reading the agent's stack: %w", err)
	}
	return nil
}

// agentPID reads SSH_AGENT_PID=N; from ssh-agent -s.
func agentPID(out string) int {
	_, rest, ok := strings.Cut(out, "SSH_AGENT_PID=")
	if !ok {
		return 0
	}
	n, _, _ := strings.Cut(rest, ";")
	pid, _ := strconv.Atoi(n)
	return pid
}

func stackAddress(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(l, "[stack]") {
			start, _, _ := strings.Cut(l, "-")
			return strconv.ParseUint(start, 16, 64)
		}
	}
	return 0, fmt.Errorf("no stack in /proc/%d/maps", pid)
}
