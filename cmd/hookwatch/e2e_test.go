package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hasLibrary(d map[string]any, lib string) bool { return str(d, "dll.path") == lib }

func TestPreloadIntoCatRaisesAlert(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	file := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(file, []byte("hunter2\n"), 0o600)

	cmd := exec.Command("cat", file)
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+hook)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "hunter2\n" {
		t.Fatalf("cat: %v %q", err, out)
	}
	pid := float64(cmd.Process.Pid)

	a := s.waitFor("loader-variable alert for cat", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-untrusted") && get(d, "process.pid") == pid
	})
	if got := str(a, "process.name"); got != "cat" {
		t.Errorf("process.name = %q", got)
	}
	if !hasLibrary(a, hook) {
		t.Errorf("dll.path = %q, want %s", str(a, "dll.path"), hook)
	}
	if env, _ := get(a, "process.env_vars").([]any); len(env) != 1 || env[0] != "LD_PRELOAD="+hook {
		t.Errorf("process.env_vars = %v, want only the loader variable", env)
	}
	if str(a, "rule.id") != "92a18ede-672a-4a0d-a98b-d67bf5b0c102" || !strings.Contains(str(a, "event.reason"), "temporary") {
		t.Errorf("rule/reason: %s / %s", str(a, "rule.id"), str(a, "event.reason"))
	}
	subs, _ := get(a, "threat.technique.subtechnique.id").([]any)
	if len(subs) != 1 || subs[0] != "T1574.006" {
		t.Errorf("threat.technique.subtechnique.id = %v: cat is not a credential program, only T1574.006 applies", subs)
	}
	// The library really loaded: the kernel reported the mapping.
	s.waitFor("library-loaded event for the hook in cat", func(d map[string]any) bool {
		return str(d, "event.action") == "library-loaded" && get(d, "process.pid") == pid && hasLibrary(d, hook)
	})
}

// A process that exits at once still yields a full event: everything comes
// from the kernel record, nothing from /proc.
func TestShortLivedProcessFromKernelDataAlone(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	cmd := exec.Command("/bin/true", "arg-one", "arg two")
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+hook)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := float64(cmd.Process.Pid)
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid))); err == nil {
		t.Fatal("process still present")
	}
	a := s.waitFor("alert for the exited process", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-untrusted") && get(d, "process.pid") == pid
	})
	args, _ := get(a, "process.args").([]any)
	if len(args) != 3 || args[2] != "arg two" || str(a, "process.executable") != "/usr/bin/true" {
		t.Errorf("args %v executable %q", args, str(a, "process.executable"))
	}
	if str(a, "process.parent.executable") == "" || str(a, "process.entity_id") == "" {
		t.Errorf("parent or entity id missing: %v", get(a, "process"))
	}
}

func TestSSHClientAndSCPWithHook(t *testing.T) {
	hook := compileHook(t)
	srv := startSSHD(t)
	s := startSensor(t)
	env := []string{"LD_PRELOAD=" + hook}

	if out := srv.ssh(t, env, "echo logged-in"); !strings.Contains(out, "logged-in") {
		t.Fatalf("ssh output %q", out)
	}
	for _, action := range []string{"loader-variable-credential-untrusted", "unexpected-library-untrusted"} {
		a := s.waitFor(action+" alert for ssh", func(d map[string]any) bool {
			return isAlert(d, action) && str(d, "process.name") == "ssh"
		})
		if !hasLibrary(a, hook) || str(a, "labels.severity_level") != "critical" {
			t.Errorf("%s: dll %q level %q", action, str(a, "dll.path"), str(a, "labels.severity_level"))
		}
		subs, _ := get(a, "threat.technique.subtechnique.id").([]any)
		if len(subs) != 2 {
			t.Errorf("%s: subtechniques %v, want T1056.004 and T1574.006", action, subs)
		}
		// The library's judgement travels with the alert.
		if str(a, "dll.hash.sha256") != sha256File(t, hook) || str(a, "labels.interposed_symbols") != "pam_authenticate read" ||
			str(a, "labels.overridden_imports") != "read" || get(a, "labels.library_package") != nil || str(a, "labels.library_trust") != "untrusted" {
			t.Errorf("%s: judgement sha256 %q interposed %q overrides %q package %v trust %q", action, str(a, "dll.hash.sha256"),
				str(a, "labels.interposed_symbols"), str(a, "labels.overridden_imports"), get(a, "labels.library_package"), str(a, "labels.library_trust"))
		}
	}

	src := filepath.Join(t.TempDir(), "payload")
	os.WriteFile(src, []byte("x"), 0o600)
	srv.scp(t, env, src, filepath.Join(t.TempDir(), "copied"))
	s.waitFor("alert for scp", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && str(d, "process.name") == "scp" && hasLibrary(d, hook)
	})
	// scp runs ssh underneath; the hook follows it there.
	s.waitFor("unexpected library in the ssh under scp", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && str(d, "process.name") == "ssh" && parentName(d) == "scp"
	})
}

func TestSSHDStartedWithHook(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	srv := startSSHD(t, "LD_PRELOAD="+hook)
	mainPID := float64(srv.cmd.Process.Pid)

	s.waitFor("loader variable alert for sshd", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && get(d, "process.pid") == mainPID
	})
	s.waitFor("unexpected library alert for sshd", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && get(d, "process.pid") == mainPID && hasLibrary(d, hook)
	})
	srv.ssh(t, nil, "true")
	// The per-connection sshd (re-exec'd with the same environment) is caught too.
	child := s.waitFor("alert for an sshd session child", func(d map[string]any) bool {
		return str(d, "event.kind") == "alert" && str(d, "process.name") == "sshd" &&
			get(d, "process.pid") != mainPID && hasLibrary(d, hook)
	})
	if get(child, "process.parent.pid") != mainPID {
		t.Errorf("session child's parent = %v, want the listening sshd %v", get(child, "process.parent.pid"), mainPID)
	}
}

// A normal login loads PAM, NSS and the rest: all expected, so no alert.
func TestNormalLoginRaisesNoAlert(t *testing.T) {
	srv := startSSHD(t)
	s := startSensor(t, "-telemetry", "all", "-no-sweep")
	srv.ssh(t, nil, "id")
	// Wait until the session's libraries are visible, then a little more.
	s.waitFor("libraries of the sshd session", func(d map[string]any) bool {
		return str(d, "event.action") == "library-loaded" && str(d, "process.name") == "sshd" &&
			strings.Contains(str(d, "dll.path"), "/security/pam_")
	})
	time.Sleep(time.Second)
	expected := 0
	// Other test packages run at the same time and do raise alerts (they
	// test them): only the login's processes count here.
	login := func(d map[string]any) bool {
		for _, n := range []string{str(d, "process.name"), parentName(d)} {
			switch n {
			case "sshd", "sshd-session", "ssh", "unix_chkpwd":
				return true
			}
		}
		return false
	}
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && login(d) {
			t.Errorf("alert on a normal login: %s", str(d, "message"))
		}
		if str(d, "event.action") == "library-loaded" && login(d) {
			if str(d, "labels.expected") != "true" {
				t.Errorf("unexpected library on a normal login: %s in %s", str(d, "dll.path"), str(d, "process.name"))
			}
			expected++
		}
	}
	if expected < 10 {
		t.Errorf("only %d library loads seen: the sensor did not watch the login", expected)
	}
	// Every module of sshd's PAM stack reached the agent.
	want := stackModules(t, "sshd")
	s.waitUntil("every module of sshd's stack seen in sshd", 20*time.Second, func(docs []map[string]any) (bool, string) {
		missing := map[string]bool{}
		for m := range want {
			missing[m] = true
		}
		for _, d := range docs {
			if str(d, "event.action") == "library-loaded" && strings.HasPrefix(str(d, "process.name"), "sshd") {
				delete(missing, str(d, "dll.path"))
			}
		}
		return len(missing) == 0, fmt.Sprintf("not seen: %v", missing)
	})
}

func TestStartupSweepFindsEarlierHook(t *testing.T) {
	hook := compileHook(t)
	srv := startSSHD(t, "LD_PRELOAD="+hook) // planted before the sensor runs
	pid := float64(srv.cmd.Process.Pid)
	waitMapped(t, srv.cmd.Process.Pid, hook)
	// sshd rewrites its argv and environment area (setproctitle), so its
	// LD_PRELOAD is no longer readable; a plain process keeps it.
	sleeper := exec.Command("sleep", "60")
	sleeper.Env = append(os.Environ(), "LD_PRELOAD="+hook)
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	waitMapped(t, sleeper.Process.Pid, hook)

	s := startSensor(t)
	a := s.waitFor("sweep alert for the running sshd", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && get(d, "process.pid") == pid && hasLibrary(d, hook)
	})
	if !strings.Contains(str(a, "event.reason"), "sshd is a credential program") {
		t.Errorf("reason: %s", str(a, "event.reason"))
	}
	s.waitFor("sweep loader-variable alert for the sleeper", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-untrusted") && get(d, "process.pid") == float64(sleeper.Process.Pid) && hasLibrary(d, hook)
	})
	// The sweep also marked it watched in the kernel: a new connection's
	// session process is reported from kernel events.
	srv.ssh(t, nil, "true")
	s.waitFor("alert for a session child after the sweep", func(d map[string]any) bool {
		return str(d, "event.kind") == "alert" && str(d, "process.name") == "sshd" && get(d, "process.pid") != pid
	})
}

// waitMapped waits until a library shows in a process's maps.
func waitMapped(t *testing.T, pid int, lib string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "maps"))
		if strings.Contains(string(b), lib) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never mapped into %d", lib, pid)
}

func TestLoaderRunDirectly(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	ldso, err := filepath.EvalSymlinks("/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		t.Fatalf("no x86-64 loader: %v", err)
	}
	sshPath, _ := exec.LookPath("ssh")
	cmd := exec.Command("/lib64/ld-linux-x86-64.so.2", "--preload", hook, sshPath, "-V")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	a := s.waitFor("alert for ld.so --preload", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && get(d, "process.pid") == float64(cmd.Process.Pid)
	})
	if !hasLibrary(a, hook) || str(a, "labels.target_image") != sshPath || str(a, "labels.severity_level") != "critical" {
		t.Errorf("dll %q target %q level %q (loader %s)", str(a, "dll.path"), str(a, "labels.target_image"), str(a, "labels.severity_level"), ldso)
	}
}

// Hostile environments: a loader variable behind more padding than the
// kernel scans, values with newlines and bytes that are not UTF-8.
func TestHostileEnvironment(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	// One string may be at most 128 KiB (MAX_ARG_STRLEN): pad with many.
	var env []string
	for i := 0; i < 3000; i++ {
		env = append(env, fmt.Sprintf("PAD%04d=%s", i, strings.Repeat("x", 100)))
	}
	cmd := exec.Command("sleep", "2")
	cmd.Env = append(env, "LD_PRELOAD="+hook)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("alert for a preload hidden past the in-kernel scan", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-untrusted") && get(d, "process.pid") == float64(cmd.Process.Pid) && hasLibrary(d, hook)
	})

	odd := "LD_PRELOAD=" + hook + "\n/tmp/\xff\xfe evil\"].so"
	cmd = exec.Command("/bin/true")
	cmd.Env = []string{"A=\xff", odd}
	cmd.Run()
	// The names lead to no file (the library can do nothing: low).
	a := s.waitFor("alert with odd bytes", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-at-exec") && get(d, "process.pid") == float64(cmd.Process.Pid)
	})
	vars, _ := get(a, "process.env_vars").([]any)
	if len(vars) != 1 || !strings.Contains(vars[0].(string), `\xff\xfe`) || !strings.Contains(vars[0].(string), "\n") {
		t.Errorf("env_vars %q: odd bytes must be escaped, not lost", vars)
	}
}

// /etc/ld.so.preload reaches every process without any variable: the
// library is still caught when a credential program maps it.
func TestPreloadFileIsCaughtAtMapping(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t)
	const preload = "/etc/ld.so.preload"
	old, err := os.ReadFile(preload)
	existed := err == nil
	t.Cleanup(func() {
		if existed {
			os.WriteFile(preload, old, 0o644)
		} else {
			os.Remove(preload)
		}
	})
	if err := os.WriteFile(preload, []byte(hook+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ssh", "-V")
	out, err := cmd.CombinedOutput()
	// Restore at once: every process on the host loads the hook meanwhile.
	if existed {
		os.WriteFile(preload, old, 0o644)
	} else {
		os.Remove(preload)
	}
	if err != nil {
		t.Fatalf("ssh -V: %v\n%s", err, out)
	}
	pid := float64(cmd.Process.Pid)
	a := s.waitFor("unexpected library via /etc/ld.so.preload", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && get(d, "process.pid") == pid && hasLibrary(d, hook)
	})
	if get(a, "process.env_vars") != nil {
		t.Errorf("env_vars %v: nothing came through the environment", get(a, "process.env_vars"))
	}
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && str(d, "rule.category") == "process_creation" && get(d, "process.pid") == pid {
			t.Errorf("loader variable alert without a loader variable: %s", str(d, "message"))
		}
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestExplain(t *testing.T) {
	hook := compileHook(t)
	out, err := exec.Command(binPath, "explain", "-json", hook).Output()
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	var j map[string]any
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatalf("explain -json is not JSON: %v\n%s", err, out)
	}
	if j["Location"] != "temporary" || j["SHA256"] != sha256File(t, hook) || j["Package"] != "" {
		t.Errorf("hook judgement: %s", out)
	}
	// A packaged library, named by its soname symlink, as a person would.
	out, err = exec.Command(binPath, "explain", "/usr/lib/x86_64-linux-gnu/libkeyutils.so.1").Output()
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	for _, want := range []string{"libkeyutils.so.1.10", "via          /usr/lib/x86_64-linux-gnu/libkeyutils.so.1", "libkeyutils1:amd64 (dpkg), bytes match"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	// An allowlisted preloader says which entry vouches for it; the hook
	// has none.
	out, err = exec.Command(binPath, "explain", "/usr/libexec/coreutils/libstdbuf.so").Output()
	if err != nil || !strings.Contains(string(out), "allowlist    stdbuf (builtin:allowlists/preloaders.yml)") {
		t.Errorf("explain libstdbuf: %v\n%s", err, out)
	}
	if j["Allowlist"] != nil {
		t.Errorf("the hook is allowlisted: %v", j["Allowlist"])
	}
	// -config: its rules directory's allowlists vouch, as the daemon's do.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hooks.yml"), []byte("allowlist:\n  - name: our-hook\n    description: the test's own hook\n    paths: ["+hook+"]\n    sha256: ["+sha256File(t, hook)+"]\n"), 0o600)
	conf := filepath.Join(t.TempDir(), "hookwatch.yaml")
	os.WriteFile(conf, []byte("rules:\n  dir: "+dir+"\n"), 0o600)
	out, err = exec.Command(binPath, "explain", "-config", conf, hook).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "allowlist    our-hook") {
		t.Errorf("explain -config with an allowlist for the hook: %v\n%s", err, out)
	}
	if err := exec.Command(binPath, "explain").Run(); err == nil {
		t.Error("explain without a path succeeded")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("explain without a path: %v, want exit code 2", err)
	}
}

// Injection after start: a library dlopen'd into a credential program that
// is already running (what gdb or a ptrace injector does) is caught when it
// is mapped. (gdb cannot call into a process on this VM, so the program
// loads it itself when told: the kernel sees the same mapping.)
func TestInjectionAfterStart(t *testing.T) {
	hook := compileHook(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "late.c")
	os.WriteFile(src, []byte(`#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
	char line[8];
	fgets(line, sizeof line, stdin);   /* wait: started, then injected */
	if (!dlopen(argv[1], RTLD_NOW)) { fprintf(stderr, "%s\n", dlerror()); return 1; }
	return 0;
}
`), 0o644)
	prog := filepath.Join(dir, "ssh-agent") // a credential program by name
	if out, err := exec.Command("gcc", "-o", prog, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	s := startSensor(t)
	c := exec.Command(prog, hook)
	stdin, _ := c.StdinPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // long after the loader finished
	fmt.Fprintln(stdin, "go")
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	a := s.waitFor("unexpected library injected after start", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && get(d, "process.pid") == float64(c.Process.Pid) && hasLibrary(d, hook)
	})
	if get(a, "process.env_vars") != nil {
		t.Errorf("no variable was involved: %v", get(a, "process.env_vars"))
	}
}
