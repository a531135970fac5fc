package packaging

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/internal/testlock"
	"github.com/hookwatch/hookwatch/internal/testroot"
)

// The systemd host: Debian 12 with systemd as PID 1, booted by
// systemd-nspawn from the kept root (internal/testroot); each test boots a
// throw-away copy of it (--ephemeral), so it starts clean every time. (Not
// an overlay: the kernel names an overlay's files by the layer below, so
// the daemon would take every program's loader for a stranger.)

// sdHost is a booted container: commands run in its namespaces.
type sdHost struct {
	t      *testing.T
	leader int // the container's PID 1, as the host sees it
	log    string
}

// bootHost boots the cached root with systemd as PID 1 and waits until it
// has finished starting up. pkgDir is visible inside as /pkgs.
func bootHost(t *testing.T, pkgDir string) *sdHost {
	t.Helper()
	// nspawn refuses to run without it on a host without systemd.
	if exec.Command("mountpoint", "-q", "/run/systemd/nspawn").Run() != nil {
		os.MkdirAll("/run/systemd/nspawn", 0o755)
		if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", "/run/systemd/nspawn").CombinedOutput(); err != nil {
			t.Fatalf("mounting /run/systemd/nspawn: %v\n%s", err, out)
		}
	}
	logPath := filepath.Join(t.TempDir(), "console.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("systemd-nspawn", "--register=no", "--keep-unit", "--capability=all",
		"--ephemeral", "-D", testroot.Dir, "--machine=hwhost",
		"--bind-ro=/sys/kernel/btf", "--bind=/sys/kernel/tracing", "--bind-ro="+pkgDir+":/pkgs",
		"-b")
	// nspawn's own seccomp filter denies bpf().
	c.Env = append(os.Environ(), "SYSTEMD_SECCOMP=0")
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	h := &sdHost{t: t, log: logPath}
	t.Cleanup(func() {
		// Powered off from inside, as an operator would; killed if it hangs.
		if h.leader != 0 {
			syscall.Kill(h.leader, syscall.Signal(34+4)) // SIGRTMIN+4: systemd powers off
		}
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("container console (last 4 KB):\n%s", tail(string(b), 4096))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for h.leader == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the container's PID 1 did not appear")
		}
		time.Sleep(100 * time.Millisecond)
		h.leader = childNamed(c.Process.Pid, "systemd")
	}
	for {
		out, _ := h.exec("systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			if state == "degraded" {
				failed, _ := h.exec("systemctl", "--failed", "--no-legend")
				t.Logf("the container booted degraded: %s", failed)
			}
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not finish booting: %q", state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// childNamed finds the child of ppid whose command is name.
func childNamed(ppid int, name string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if s[open+1:close] == name && len(fields) > 2 && fields[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			return pid
		}
	}
	return 0
}

// exec runs a command inside the container (all its namespaces).
func (h *sdHost) exec(args ...string) (string, error) {
	c := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(h.leader), "-m", "-u", "-i", "-n", "-p", "-C", "--"}, args...)...)
	c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LANG=C"}
	out, err := c.CombinedOutput()
	return string(out), err
}

// must runs a command inside and fails the test when it fails.
func (h *sdHost) must(args ...string) string {
	h.t.Helper()
	out, err := h.exec(args...)
	if err != nil {
		h.t.Fatalf("in the container: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (h *sdHost) sh(script string) string {
	h.t.Helper()
	return h.must("/bin/sh", "-c", script)
}

func (h *sdHost) show(unit, prop string) string {
	h.t.Helper()
	return strings.TrimSpace(h.must("systemctl", "show", "-p", prop, "--value", unit))
}

// waitActive waits until the unit is active with a main process other than
// notPID, and returns that process.
func (h *sdHost) waitActive(notPID string, within time.Duration) string {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		state, pid := h.show("hookwatch", "ActiveState"), h.show("hookwatch", "MainPID")
		if state == "active" && pid != "0" && pid != notPID {
			return pid
		}
		if time.Now().After(deadline) {
			j, _ := h.exec("journalctl", "-u", "hookwatch", "--no-pager", "-n", "40")
			h.t.Fatalf("hookwatch not active with a new main process within %s (state %s, pid %s)\n%s", within, state, pid, j)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// simulate runs `hookwatch simulate` inside against the service.
func (h *sdHost) simulate(args ...string) (string, error) {
	return h.exec(append([]string{"/usr/bin/hookwatch", "simulate", "-timeout", "30s"}, args...)...)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestSystemdHost is what an operator does with the .deb on a real systemd
// host: install, status, detections in the journal and at rsyslog, reload
// with a drop-in (and a refused one), restart after a crash, the watchdog,
// the audit collector under the unit, upgrade, remove and reinstall, purge.
func TestSystemdHost(t *testing.T) {
	requireTools(t, "debootstrap", "systemd-nspawn", "nsenter", "dpkg")
	// What runs inside is the host's too: the end-to-end tests' sensors
	// would see it (Booted), and so would the benign replay's count
	// (debootstrap's second stage and the attacks alike: Quiet); the audit
	// collector below is the host's one audit subsystem.
	testlock.Hold(t, testlock.Booted)
	release, err := testlock.Share(testlock.Quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	testlock.Hold(t, testlock.Audit)
	testroot.Bookworm(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	build(t, "3.0.0", dir)
	build(t, "3.0.1", dir)
	h := bootHost(t, dir)
	deb := func(v string) string { return "/pkgs/hookwatch_" + v + "-1_amd64.deb" }

	// Install: started by the package, ready (Type=notify), enabled.
	start := time.Now()
	h.must("dpkg", "-i", deb("3.0.0"))
	pid := h.waitActive("", 30*time.Second)
	t.Logf("dpkg -i to active: %s", time.Since(start).Round(10*time.Millisecond))
	if st := h.show("hookwatch", "StatusText"); st != "watching" {
		t.Errorf("status text %q, want watching", st)
	}
	if en := strings.TrimSpace(h.must("systemctl", "is-enabled", "hookwatch")); en != "enabled" {
		t.Errorf("is-enabled after install: %q", en)
	}
	if out := h.must("/usr/bin/hookwatch", "version"); out != "hookwatch 3.0.0\n" {
		t.Errorf("version: %q", out)
	}

	// hookwatch simulate against the service: every scenario passes, in
	// the pid namespace of its own that nspawn always gives the container
	// (where the host pids the kernel reports name no process in the
	// daemon's /proc: the daemon warns at start, and reports a credential
	// process it cannot read there by what the kernel says of it).
	out, err := h.simulate()
	t.Logf("hookwatch simulate:\n%s", out)
	if err != nil {
		t.Errorf("simulate against the service: %v", err)
	}
	for _, sc := range []string{"preload-into-ssh", "audit-into-ssh", "loader-preload-flag", "unit-drop-in", "read-ssh-agent-memory"} {
		if !strings.Contains(out, "PASS  "+sc) {
			t.Errorf("scenario %s did not pass", sc)
		}
	}
	if j, _ := h.exec("journalctl", "-u", "hookwatch", "--no-pager"); !strings.Contains(j, "pid namespace of its own") {
		t.Errorf("the daemon did not say that it runs in a pid namespace of its own")
	}
	// ... and its alerts are in the journal (standard output of the unit).
	j := h.must("journalctl", "-u", "hookwatch", "-o", "cat", "--no-pager")
	if !strings.Contains(j, `"event.kind":"alert"`) && !strings.Contains(j, `"kind":"alert"`) {
		t.Errorf("no alert in the journal:\n%s", tail(j, 3000))
	}

	// Reload with a drop-in that adds rsyslog over TCP: the job waits for
	// the daemon's answer; then the next attack reaches rsyslog (its own
	// alert: each simulate run's library is its own, so the daemon's
	// folding of repeats does not hold it back).
	port := freePort(t)
	h.sh(fmt.Sprintf(`cat > /etc/rsyslog.d/10-hookwatch.conf <<EOF
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="hookwatch")
ruleset(name="hookwatch") { action(type="omfile" file="/var/log/hookwatch-remote.log") }
EOF
systemctl restart rsyslog`, port))
	h.sh(fmt.Sprintf("printf 'syslog:\\n  address: tcp://127.0.0.1:%d\\n' > /etc/hookwatch/conf.d/50-syslog.yaml", port))
	h.must("systemctl", "reload", "hookwatch")
	if now := h.show("hookwatch", "MainPID"); now != pid {
		t.Errorf("reload replaced the main process (%s -> %s)", pid, now)
	}
	if out, err := h.simulate("-only", "preload-into-ssh"); err != nil {
		t.Fatalf("simulate after reload: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := h.exec("cat", "/var/log/hookwatch-remote.log")
		if strings.Contains(b, `"kind":"alert"`) && strings.Contains(b, "hookwatch-simulate-") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert at rsyslog after the reload:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A drop-in the daemon refuses fails the reload job, and the running
	// configuration stays.
	h.sh("printf 'output:\\n  telemetry: sometimes\\n' > /etc/hookwatch/conf.d/60-bad.yaml")
	if out, err := h.exec("systemctl", "reload", "hookwatch"); err == nil {
		t.Errorf("systemctl reload succeeded with a refused drop-in:\n%s", out)
	}
	if state := h.show("hookwatch", "ActiveState"); state != "active" {
		t.Errorf("after a refused reload: %s", state)
	}
	if j, _ := h.exec("journalctl", "-u", "hookwatch", "--no-pager", "-n", "30"); !strings.Contains(j, "telemetry") {
		t.Errorf("the refusal does not name the bad option:\n%s", j)
	}
	h.must("rm", "/etc/hookwatch/conf.d/60-bad.yaml")

	// A crash is restarted (Restart=on-failure).
	h.must("systemctl", "kill", "--kill-whom=main", "-s", "KILL", "hookwatch")
	pid = h.waitActive(pid, 30*time.Second)

	// A hung daemon: the watchdog kills and restarts it.
	h.sh("mkdir -p /etc/systemd/system/hookwatch.service.d && printf '[Service]\\nWatchdogSec=3s\\n' > /etc/systemd/system/hookwatch.service.d/watchdog.conf && systemctl daemon-reload && systemctl restart hookwatch")
	pid = h.waitActive(pid, 30*time.Second)
	restarts := h.show("hookwatch", "NRestarts")
	h.must("systemctl", "kill", "--kill-whom=main", "-s", "STOP", "hookwatch")
	pid = h.waitActive(pid, 40*time.Second)
	if j, _ := h.exec("journalctl", "-u", "hookwatch", "--no-pager"); !strings.Contains(j, "Watchdog timeout") {
		t.Errorf("no watchdog timeout in the journal:\n%s", tail(j, 3000))
	}
	if now := h.show("hookwatch", "NRestarts"); now == restarts {
		t.Errorf("NRestarts still %s after the watchdog fired", now)
	}
	h.sh("rm -r /etc/systemd/system/hookwatch.service.d && systemctl daemon-reload")

	// No collector can run: bpf() denied by a system call filter (a drop-in
	// that takes it out of the unit's allow-list) and the audit subsystem
	// refused (the kernel takes audit control only from the initial pid
	// namespace, which a container is not). The daemon names the cause and
	// exits 3, which the unit does not restart on.
	h.sh("mkdir -p /etc/systemd/system/hookwatch.service.d && printf '[Service]\\nSystemCallFilter=~bpf\\n' > /etc/systemd/system/hookwatch.service.d/nobpf.conf && systemctl daemon-reload")
	h.exec("systemctl", "restart", "hookwatch")
	deadline = time.Now().Add(30 * time.Second)
	for h.show("hookwatch", "ActiveState") != "failed" {
		if time.Now().After(deadline) {
			t.Fatalf("not failed with bpf() denied: %s", h.show("hookwatch", "ActiveState"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := h.show("hookwatch", "ExecMainStatus"); st != "3" {
		t.Errorf("exit status %s with no collector, want 3", st)
	}
	restarts = h.show("hookwatch", "NRestarts")
	time.Sleep(7 * time.Second) // RestartSec=5s
	if now := h.show("hookwatch", "NRestarts"); now != restarts || h.show("hookwatch", "ActiveState") != "failed" {
		t.Errorf("restarted with no collector (NRestarts %s -> %s)", restarts, now)
	}
	if j, _ := h.exec("journalctl", "-u", "hookwatch", "--no-pager", "-n", "20"); !strings.Contains(j, "bpf() not permitted: a seccomp filter denies it") {
		t.Errorf("the journal does not name the cause:\n%s", j)
	}
	h.sh("rm -r /etc/systemd/system/hookwatch.service.d && systemctl daemon-reload && systemctl reset-failed hookwatch && systemctl start hookwatch")
	pid = h.waitActive(pid, 30*time.Second)

	// Upgrade: the new binary runs, the operator's edit stays.
	h.sh(`sed -i 's/^  #queue: 8192$/  queue: 4242 # edited/' /etc/hookwatch/hookwatch.yaml`)
	h.must("dpkg", "-i", "--force-confold", deb("3.0.1"))
	pid = h.waitActive(pid, 30*time.Second)
	if out := h.must("/proc/"+pid+"/exe", "version"); out != "hookwatch 3.0.1\n" {
		t.Errorf("the running daemon after the upgrade: %q", out)
	}
	if b := h.must("cat", "/etc/hookwatch/hookwatch.yaml"); !strings.Contains(b, "queue: 4242 # edited") {
		t.Error("the configuration edit did not survive the upgrade")
	}

	// Remove and reinstall keep the administrator's choice, either way.
	h.must("dpkg", "-r", "hookwatch")
	if out, _ := h.exec("systemctl", "is-active", "hookwatch"); strings.TrimSpace(out) == "active" {
		t.Error("still active after remove")
	}
	h.must("dpkg", "-i", deb("3.0.1"))
	if en := strings.TrimSpace(h.must("systemctl", "is-enabled", "hookwatch")); en != "enabled" {
		t.Errorf("enabled before remove, %q after reinstall", en)
	}
	pid = h.waitActive("", 30*time.Second)
	h.must("systemctl", "disable", "--now", "hookwatch")
	h.must("dpkg", "-r", "hookwatch")
	h.must("dpkg", "-i", deb("3.0.1"))
	if en, _ := h.exec("systemctl", "is-enabled", "hookwatch"); strings.TrimSpace(en) != "disabled" {
		t.Errorf("disabled before remove, %q after reinstall", strings.TrimSpace(en))
	}
	if out, _ := h.exec("systemctl", "is-active", "hookwatch"); strings.TrimSpace(out) == "active" {
		t.Error("a disabled service was started by the reinstall")
	}
	// simulate fails every scenario when no service runs.
	if out, err := h.simulate("-timeout", "3s", "-only", "preload-into-ssh"); err == nil || !strings.Contains(out+err.Error(), "FAIL") {
		t.Errorf("simulate passed with the service stopped: %v\n%s", err, out)
	}

	// Purge leaves nothing of hookwatch.
	h.must("dpkg", "-P", "hookwatch")
	left := h.must("sh", "-c", "find /etc /var /usr /run -name '*hookwatch*' -not -path '/var/log/hookwatch-remote.log' -not -path '/etc/rsyslog.d/*' -not -path '/var/lib/dpkg/*' -not -path '/var/log/journal/*' -not -path '/"+testroot.Stamp+"' 2>/dev/null || true")
	if strings.TrimSpace(left) != "" {
		t.Errorf("left after purge:\n%s", left)
	}
	if out, _ := h.exec("systemctl", "is-enabled", "hookwatch"); !strings.Contains(out, "not-found") && strings.TrimSpace(out) != "" {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			t.Logf("is-enabled after purge: %s", sc.Text())
		}
	}
}
