package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/internal/testlock"
	"github.com/hookwatch/hookwatch/sensor/ecs/ecstest"
)

// binPath is the hookwatch binary under test, built static as shipped.
var binPath string

func TestMain(m *testing.M) {
	release, err := testlock.Share(testlock.Booted)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := runMain(m)
	release()
	os.Exit(code)
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hookwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binPath = filepath.Join(dir, "hookwatch")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=e2e", "-o", binPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if os.Getenv("HOOKWATCH_E2E_RACE") != "" {
		// The daemon's goroutines under the race detector (needs cgo).
		build = exec.Command("go", "build", "-race", "-ldflags", "-X main.version=e2e", "-o", binPath, ".")
	}
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building hookwatch: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	os.RemoveAll(dir)
	return code
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("must be root to load BPF programs (the test suite runs as root in CI)")
	}
}

// sensor is a running hookwatch writing ECS lines to a file.
type sensor struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     string
	conf    string // its configuration file
	rules   string // its rules directory (rules.dir), empty at start
	stopped bool
	stderr  *syncBuffer
	done    chan error
	// auditLoss: the collector is audit, whose stream is the whole
	// system's (every exec of the other test packages running beside this
	// one is a record): a burst it drops is counted in kernel_lost, which
	// is then reported, not failed. What a test checks is that its own
	// attacks were caught.
	auditLoss bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSensor runs hookwatch until the test ends and waits until its probes
// are attached. At the end it stops it and checks that it exited cleanly
// and lost nothing in the kernel.
func startSensor(t *testing.T, args ...string) *sensor {
	t.Helper()
	requireRoot(t)
	s := &sensor{t: t, out: filepath.Join(t.TempDir(), "events.json"), stderr: &syncBuffer{}, done: make(chan error, 1)}
	// A configuration of the test's own: the host's /etc/hookwatch (a
	// package test installs one) must not change what is tested.
	conf := filepath.Join(t.TempDir(), "hookwatch.yaml")
	s.rules = t.TempDir()
	if err := os.WriteFile(conf, []byte("log:\n  format: json\nrules:\n  dir: "+s.rules+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if a == "-config" && i+1 < len(args) {
			conf = args[i+1] // the test brings its own
		}
	}
	s.conf = conf
	base := []string{"run", "-config", conf, "-output", s.out, "-stats-interval", "0", "-metrics-listen", "127.0.0.1:0"}
	if !slices.Contains(args, "-fold-window") {
		// Tests look for the alert of each process they run: every alert
		// is written unless a test is about folding.
		base = append(base, "-fold-window", "0")
	}
	s.cmd = exec.Command(binPath, append(base, args...)...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting hookwatch: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.stderr.String(), "hookwatch running") {
		select {
		case err := <-s.done:
			t.Fatalf("hookwatch exited early: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookwatch did not start:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *sensor) stop() {
	t := s.t
	if s.stopped {
		return
	}
	s.stopped = true
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("hookwatch exited with %v:\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("hookwatch did not stop on SIGTERM:\n%s", s.stderr.String())
	}
	final := s.finalCounters()
	if final == nil {
		t.Errorf("no final counters logged:\n%s", s.stderr.String())
		return
	}
	for _, k := range []string{"kernel_lost", "agent_dropped", "decode_errors", "write_errors"} {
		if v, _ := final[k].(float64); v != 0 && k == "kernel_lost" && s.auditLoss {
			t.Logf("audit stream: %v records lost, counted", v)
			continue
		}
		if v, _ := final[k].(float64); v != 0 {
			t.Errorf("%s = %v at exit", k, v)
		}
	}
	s.checkLoudOnce()
}

// maxAlertsPerProcess is how loud one attacking process may be: every
// attack in these tests is one process (or one per login, each its own
// route), and raises a few alerts, not one per rule that could apply.
const maxAlertsPerProcess = 5

// checkLoudOnce fails the test when any process raised more than
// maxAlertsPerProcess alerts (repeats of a route across processes fold in
// production; the tests write every alert, see startSensor).
func (s *sensor) checkLoudOnce() {
	perProcess := map[string][]string{}
	for _, d := range s.docs() {
		if str(d, "event.kind") != "alert" {
			continue
		}
		id := str(d, "process.entity_id")
		if id == "" {
			id = str(d, "file.path") // a change with no writer
		}
		perProcess[id] = append(perProcess[id], str(d, "event.action"))
	}
	for id, rules := range perProcess {
		if len(rules) > maxAlertsPerProcess {
			s.t.Errorf("process %s raised %d alerts, want at most %d: %v", id, len(rules), maxAlertsPerProcess, rules)
		}
	}
}

// logLine returns the first log entry with msg.
func (s *sensor) logLine(msg string) map[string]any {
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

func (s *sensor) finalCounters() map[string]any {
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "final counters" {
			return m
		}
	}
	return nil
}

// completeLines are the non-empty lines of a file another process is
// appending to, without a last line that has no newline yet: it is being
// written right now and is left for the next read.
func completeLines(b []byte) [][]byte {
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return nil
	}
	var out [][]byte
	for _, line := range bytes.Split(b[:i], []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// docs reads every document written so far; each must be valid ECS 9.4.0.
// A last line without its newline is being written right now: it is left
// for the next read, not taken for a broken document.
func (s *sensor) docs() []map[string]any {
	s.t.Helper()
	b, err := os.ReadFile(s.out)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		s.t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range completeLines(b) {
		if err := ecstest.ValidateJSON(line); err != nil {
			s.t.Errorf("invalid ECS document: %v\n%s", err, line)
		}
		var d map[string]any
		if err := json.Unmarshal(line, &d); err != nil {
			s.t.Fatalf("line is not JSON: %v\n%s", err, line)
		}
		out = append(out, d)
	}
	return out
}

// waitFor waits until a document matches, and returns it.
func (s *sensor) waitFor(desc string, match func(map[string]any) bool) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, d := range s.docs() {
			if match(d) {
				return d
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no event: %s\nevents:\n%s\nlog:\n%s", desc, s.dump(), s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil waits until done says the documents written so far are all
// that was waited for; status says what is still missing.
func (s *sensor) waitUntil(desc string, timeout time.Duration, done func(docs []map[string]any) (ok bool, status string)) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, status := done(s.docs())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %s for %s: %s\nlog:\n%s", timeout, desc, status, s.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *sensor) dump() string {
	b, _ := os.ReadFile(s.out)
	return string(b)
}

// get reads a dotted field from a nested document.
func get(d map[string]any, path string) any {
	var cur any = d
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func str(d map[string]any, path string) string {
	s, _ := get(d, path).(string)
	return s
}

// parentName is the parent's executable name (documents name the parent
// by its path only).
func parentName(d map[string]any) string {
	if p := str(d, "process.parent.executable"); p != "" {
		return filepath.Base(p)
	}
	return ""
}

func isAlert(d map[string]any, action string) bool {
	return str(d, "event.kind") == "alert" && str(d, "event.action") == action
}

// compileHook builds a hook library that interposes read() and
// pam_authenticate(), as credential-stealing hooks do.
func compileHook(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "hook.c")
	lib := filepath.Join(dir, "hook.so")
	code := `#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>
ssize_t read(int fd, void *buf, size_t n) {
	static ssize_t (*real)(int, void *, size_t);
	if (!real) real = dlsym(RTLD_NEXT, "read");
	return real(fd, buf, n);
}
int pam_authenticate(void *h, int flags) { (void)h; (void)flags; return 0; }
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", lib, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return lib
}

// sshd is a real OpenSSH server on 127.0.0.1 with its own keys and config.
type sshd struct {
	dir, port, clientKey string
	cmd                  *exec.Cmd
}

func startSSHD(t *testing.T, env ...string) *sshd {
	t.Helper()
	bin, err := exec.LookPath("sshd")
	if err != nil {
		bin = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("sshd is needed: apt-get install openssh-server (see .ci/run)")
	}
	s := &sshd{dir: t.TempDir()}
	for _, k := range []string{"host_key", "client_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(s.dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	s.clientKey = filepath.Join(s.dir, "client_key")
	pub, _ := os.ReadFile(s.clientKey + ".pub")
	os.WriteFile(filepath.Join(s.dir, "authorized_keys"), pub, 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, s.port, _ = net.SplitHostPort(l.Addr().String())
	l.Close()
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s/host_key
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
`, s.port, s.dir, s.dir, s.dir)
	cfg := filepath.Join(s.dir, "sshd_config")
	os.WriteFile(cfg, []byte(conf), 0o600)
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory

	s.cmd = exec.Command(bin, "-D", "-e", "-f", cfg)
	s.cmd.Env = append(os.Environ(), env...)
	var log syncBuffer
	s.cmd.Stderr = &log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+s.port)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s:\n%s", s.port, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *sshd) clientArgs() []string {
	return []string{"-i", s.clientKey, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"}
}

// ssh runs a command over a real login; env is added to the client's.
func (s *sshd) ssh(t *testing.T, env []string, command string) string {
	t.Helper()
	args := append(s.clientArgs(), "-p", s.port, "root@127.0.0.1", command)
	cmd := exec.Command("ssh", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	return string(out)
}

// scp copies a file over a real login; env is added to the client's.
func (s *sshd) scp(t *testing.T, env []string, src, dst string) {
	t.Helper()
	args := append(s.clientArgs(), "-P", s.port, src, "root@127.0.0.1:"+dst)
	cmd := exec.Command("scp", args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scp: %v\n%s", err, out)
	}
}

// exitCode is a finished command's exit status (0 for no error, -1 when it
// did not run).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
