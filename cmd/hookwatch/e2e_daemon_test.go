package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scrape reads /metrics into "name{labels}" -> value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[:i]] = v
		}
	}
	return out
}

func TestMetricsMoveAndHealth(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	addr, _ := s.logLine("hookwatch running")["metrics"].(string)
	if addr == "" {
		t.Fatalf("no metrics address logged:\n%s", s.stderr.String())
	}
	before := scrape(t, addr)
	cmd := exec.Command("cat", "/dev/null")
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+hook)
	cmd.Run()
	s.waitFor("the alert", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-untrusted") && get(d, "process.pid") == float64(cmd.Process.Pid)
	})
	after := scrape(t, addr)
	for _, m := range []string{`hookwatch_events_total{kind="exec"}`, `hookwatch_documents_written_total`, `hookwatch_kernel_execs_total`} {
		if after[m] <= before[m] {
			t.Errorf("%s did not move: %v -> %v", m, before[m], after[m])
		}
	}
	rule := `hookwatch_detections_total{rule_id="92a18ede-672a-4a0d-a98b-d67bf5b0c102",rule_name="Untrusted library preloaded at exec"}`
	if after[rule] < 1 {
		t.Errorf("%s = %v", rule, after[rule])
	}
	if after[`hookwatch_bpf_program_runs_total{program="handle_exec"}`] == 0 {
		t.Error("no BPF run counts: kernel statistics not enabled")
	}
	for _, m := range []string{`hookwatch_kernel_lost_records_total{kind="exec"}`, `hookwatch_dropped_events_total`, `hookwatch_queue_depth`} {
		if _, ok := after[m]; !ok {
			t.Errorf("%s missing", m)
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t, "-no-sweep")
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	builtin, err := os.ReadFile("../../rules/facts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// New rules: "true" becomes a credential program, and T1574.006 has
	// another name.
	edited := strings.Replace(string(builtin), "  - ssh\n", "  - ssh\n  - true\n", 1)
	edited = strings.Replace(edited, "name: Dynamic Linker Hijacking\n", "name: Dynamic Linker Hijacking, reloaded\n", 1)
	os.WriteFile(rulesFile, []byte(edited), 0o600)

	// A bad reload first, through `hookwatch reload` (the unit's
	// ExecReload): it fails with the daemon's reason, and the running
	// configuration stays.
	pid := strconv.Itoa(s.cmd.Process.Pid)
	os.WriteFile(s.conf, []byte("log:\n  format: json\nagent:\n  queue: [1\n"), 0o600)
	out, err := exec.Command(binPath, "reload", pid).CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "reload refused") || !strings.Contains(string(out), "hookwatch.yaml") {
		t.Errorf("reload of a broken configuration: exit %d, %s", code, out)
	}
	waitLog(t, s, "reload failed: keeping the running configuration")

	// rules.file, the facts file's earlier key, still names it.
	os.WriteFile(s.conf, []byte("log:\n  format: json\nrules:\n  file: "+rulesFile+"\n"), 0o600)
	if out, err := exec.Command(binPath, "reload", pid).CombinedOutput(); err != nil || !strings.Contains(string(out), "configuration reloaded") {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	// The command returned once the new configuration was in force.
	waitLog(t, s, "configuration reloaded")
	// Not a hookwatch daemon: a clear error, not a signal sent blindly.
	if out, err := exec.Command(binPath, "reload", "1").CombinedOutput(); exitCode(err) != 1 || !strings.Contains(string(out), "not a running hookwatch daemon") {
		t.Errorf("reload of pid 1: %v\n%s", err, out)
	}
	cmd := exec.Command("/bin/true")
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+hook)
	cmd.Run()
	a := s.waitFor("alert under the reloaded rules", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && get(d, "process.pid") == float64(cmd.Process.Pid)
	})
	if !strings.Contains(str(a, "event.reason"), "true is a credential program") {
		t.Errorf("reloaded rules not in force: %s", str(a, "event.reason"))
	}
	if names, _ := get(a, "threat.technique.subtechnique.name").([]any); !slices.Contains(names, any("Dynamic Linker Hijacking, reloaded")) {
		t.Errorf("ATT&CK names of the reloaded facts file not in the alert: %v", names)
	}
}

// The rules file the sensor started with, edited in place to add a loader
// variable: the kernel keeps the variables it started with, and the reload
// says so (it compares with the rules in force, not the file read again).
func TestReloadSaysWhatNeedsARestart(t *testing.T) {
	builtin, err := os.ReadFile("../../rules/facts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesFile, builtin, 0o600)
	conf := filepath.Join(dir, "hookwatch.yaml")
	os.WriteFile(conf, []byte("log:\n  format: json\nrules:\n  facts: "+rulesFile+"\n  dir: \"\"\n"), 0o600)
	s := startSensor(t, "-config", conf, "-no-sweep")
	os.WriteFile(rulesFile, []byte(strings.Replace(string(builtin), "  - LD_LIBRARY_PATH\n", "  - LD_LIBRARY_PATH\n  - LD_BIND_NOW\n", 1)), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, s, "configuration reloaded")
	if s.logLine("loader variables or the watched loader configuration (loader_config) changed: they apply at the next restart") == nil {
		t.Errorf("no word that the new loader variable needs a restart:\n%s", s.stderr.String())
	}
}

func waitLog(t *testing.T, s *sensor, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.logLine(msg) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no log %q:\n%s", msg, s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Bad configuration: exit code 2 with the file and line, and nothing left
// running (no BPF program stays attached).
func TestBadConfigurationExitsTwo(t *testing.T) {
	requireRoot(t)
	conf := filepath.Join(t.TempDir(), "hookwatch.yaml")
	os.WriteFile(conf, []byte("output:\n  telemetry: all\n  colour: blue\n"), 0o600)
	c := exec.Command(binPath, "run", "-config", conf)
	out, err := c.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), conf+":3: field colour not found") {
		t.Errorf("exit %v, output %q", err, out)
	}
	os.Chmod(conf, 0o666)
	os.WriteFile(conf, []byte("output:\n  telemetry: all\n"), 0o666)
	os.Chmod(conf, 0o666)
	out, err = exec.Command(binPath, "config", "check", conf).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "world-writable") {
		t.Errorf("world-writable: %v %q", err, out)
	}
	os.Chmod(conf, 0o600)
	out, err = exec.Command(binPath, "config", "check", conf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), conf+": ok") {
		t.Errorf("good config: %v %q", err, out)
	}
}

func TestCheck(t *testing.T) {
	requireRoot(t)
	// A configuration named on the command line must exist.
	out, err := exec.Command(binPath, "check", "-config", filepath.Join(t.TempDir(), "none.yaml")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "none.yaml") {
		t.Errorf("missing named configuration: %v\n%s", err, out)
	}
	conf := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(conf, []byte("log:\n  level: info\n"), 0o600)
	out, err = exec.Command(binPath, "check", "-config", conf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "collector          ebpf: every program loads") || !strings.Contains(string(out), "BTF                yes") {
		t.Errorf("check: %v\n%s", err, out)
	}
}

// The systemd protocol, spoken to a socket of the test's (as systemd would
// listen): READY once watching, WATCHDOG while the agent answers, RELOADING
// and READY around a reload, STOPPING at the end.
func TestSystemdNotifications(t *testing.T) {
	requireRoot(t)
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := l.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000") // ping every 100 ms
	s := startSensor(t, "-no-sweep")
	expect := func(prefix string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-got:
				if strings.HasPrefix(m, prefix) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q notification", prefix)
			}
		}
	}
	expect("READY=1")
	expect("WATCHDOG=1")
	expect("WATCHDOG=1")
	s.cmd.Process.Signal(syscall.SIGHUP)
	expect("RELOADING=1")
	expect("READY=1")
	s.stop()
	expect("STOPPING=1")
}
