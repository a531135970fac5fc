package audit

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/internal/testlock"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

type recorder struct {
	mu     sync.Mutex
	execs  []*event.Exec
	images []*event.ImageLoad
	files  []*event.FileOp
	access []*event.Access
}

func (r *recorder) Exec(e *event.Exec) { r.mu.Lock(); r.execs = append(r.execs, e); r.mu.Unlock() }
func (r *recorder) ImageLoad(e *event.ImageLoad) {
	r.mu.Lock()
	r.images = append(r.images, e)
	r.mu.Unlock()
}
func (r *recorder) FileOp(e *event.FileOp) { r.mu.Lock(); r.files = append(r.files, e); r.mu.Unlock() }
func (r *recorder) Access(e *event.Access) {
	r.mu.Lock()
	r.access = append(r.access, e)
	r.mu.Unlock()
}

func rulesText(t *testing.T) string {
	out, err := exec.Command("auditctl", "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("auditctl -l: %v %s", err, out)
	}
	return string(out)
}

func TestAuditCollector(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("must be root to use the audit subsystem (the test suite runs as root in CI)")
	}
	if _, err := exec.LookPath("auditctl"); err != nil {
		t.Fatal("auditctl is needed: apt-get install auditd (see .ci/run)")
	}
	testlock.Hold(t, testlock.Audit)
	before := rulesText(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "ld.so.preload")
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := New(Config{CredentialPrograms: []string{"ssh", "scp"}, LoaderVars: []string{"LD_PRELOAD"}, ConfigPaths: []string{conf}, Proc: procfs.Default()}, log)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, rec) }()
	time.Sleep(200 * time.Millisecond)

	libm := "/usr/lib/x86_64-linux-gnu/libm.so.6"
	// Audit does not record the environment: the collector reads it from
	// /proc when it handles the exec, which under the full suite's load
	// (every exec on the host is audited) can be seconds later. The
	// sleeper lives until its exec and library are seen (or 20 s).
	sleeper := exec.Command("sleep", "30")
	sleeper.Env = []string{"LD_PRELOAD=" + libm}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	writer := exec.Command("sh", "-c", "echo x > "+conf)
	writer.Run()
	// A credential program gone before /proc can be read: its libraries
	// come from audit's records of what it opened. (scp, which prints its
	// usage and exits: the end-to-end tests running beside this package
	// watch for ssh processes of their own.)
	short := exec.Command("scp")
	short.Env = []string{"LD_PRELOAD=" + libm}
	short.Run()
	seen := func() (exec, lib bool) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, e := range rec.execs {
			if e.PID == uint32(sleeper.Process.Pid) && len(e.LoaderEnv) == 1 && e.LoaderEnv[0] == "LD_PRELOAD="+libm {
				exec = true
			}
		}
		for _, il := range rec.images {
			if il.PID == uint32(sleeper.Process.Pid) && il.Path == libm {
				lib = true
			}
		}
		return exec, lib
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if e, l := seen(); e && l {
			break
		}
	}
	sleeper.Process.Kill()
	sleeper.Wait()
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	sawExec, sawLib := seen()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var sawWrite, sawShort bool
	for _, il := range rec.images {
		if il.PID == uint32(short.Process.Pid) && il.Path == libm && il.Watch&event.WatchCredential != 0 && il.Ino != 0 && il.Dev != 0 {
			sawShort = true
		}
	}
	for _, f := range rec.files {
		if f.Path == conf && f.Comm == "sh" && f.PID == uint32(writer.Process.Pid) {
			sawWrite = true
		}
	}
	st, _, _ := c.Stats()
	t.Logf("stats %+v race %d", st, c.RaceLost())
	if !sawExec || !sawLib || !sawWrite || !sawShort {
		t.Errorf("exec with LD_PRELOAD %v, its library %v, the write by sh %v, the library of ssh -V %v (%d execs, %d images, %d file ops)", sawExec, sawLib, sawWrite, sawShort, len(rec.execs), len(rec.images), len(rec.files))
	}
	if after := rulesText(t); after != before {
		t.Errorf("audit rules not restored:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A second collector cannot take the audit subsystem from a running one:
// it would delete the first one's rules.
func TestOneCollectorPerHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("must be root to use the audit subsystem (the test suite runs as root in CI)")
	}
	testlock.Hold(t, testlock.Audit)
	log := logrus.New()
	log.SetOutput(io.Discard)
	first, err := New(Config{CredentialPrograms: []string{"ssh"}, Proc: procfs.Default()}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{CredentialPrograms: []string{"ssh"}, Proc: procfs.Default(), LockWait: 300 * time.Millisecond}, log); !errors.Is(err, ErrInUse) {
		t.Fatalf("second collector: %v, want ErrInUse", err)
	}
	if !strings.Contains(rulesText(t), "key=hookwatch-lib") {
		t.Errorf("the first collector's rules are gone after the second tried:\n%s", rulesText(t))
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := New(Config{CredentialPrograms: []string{"ssh"}, Proc: procfs.Default()}, log)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	second.Close()
}

// Only hookwatch's keys are hookwatch's rules.
func TestIsOurs(t *testing.T) {
	for text, want := range map[string]bool{
		"-a always,exit -F arch=b64 -S execve,execveat -F key=hookwatch":                true,
		"-a always,exit -F arch=b64 -S openat -F exe=/usr/bin/ssh -F key=hookwatch-lib": true,
		"-w /etc/ld.so.preload -p wa -k hookwatch":                                      true,
		"-w /etc/hosts -p wa -k hookwatch-admin":                                        false,
		"-a always,exit -S ptrace -F key=hookwatchers":                                  false,
	} {
		if got := isOurs(text); got != want {
			t.Errorf("isOurs(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestWatchedOnlyRules(t *testing.T) {
	c := &Collector{cfg: Config{CredentialPrograms: []string{"ssh", "no-such-program"}, WatchedOnly: true, ConfigPaths: []string{"/etc/ld.so.preload"}}}
	rules := strings.Join(c.rules(), "\n")
	ssh, _ := filepath.EvalSymlinks("/usr/bin/ssh")
	for _, want := range []string{"-F exe=" + ssh + " -k hookwatch", "-S ptrace -F a0=0x10", "-w /etc/ld.so.preload -p wa -k hookwatch",
		"-S openat -F a2=0x80000 -F success=1 -F exe=" + ssh + " -k hookwatch-lib"} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules lack %q:\n%s", want, rules)
		}
	}
	if strings.Contains(rules, "no-such-program") || strings.Contains(rules, "-S execve,execveat -k") {
		t.Errorf("watched-only rules audit more than the watched programs:\n%s", rules)
	}
}
