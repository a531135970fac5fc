package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/internal/testlock"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
)

const (
	pamDir      = "/usr/lib/x86_64-linux-gnu/security"
	sudoStack   = "/etc/pam.d/sudo"
	suStack     = "/etc/pam.d/su"
	nsswitch    = "/etc/nsswitch.conf"
	rogueModule = pamDir + "/pam_hwtest.so"
	rogueNSS    = "/usr/lib/x86_64-linux-gnu/libnss_hwtest.so.2"
)

// compileModule builds a shared object from C source into path and removes
// it when the test ends.
func compileModule(t *testing.T, path, code string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "m.c")
	os.WriteFile(src, []byte(code), 0o644)
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", path, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	t.Cleanup(func() { os.Remove(path) })
}

func requireSudo(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Fatal("sudo is needed: apt-get install sudo (make deps)")
	}
	if _, err := os.Stat(sudoStack); err != nil {
		t.Fatalf("sudo's PAM stack: %v", err)
	}
}

func sudoTrue(t *testing.T) float64 {
	t.Helper()
	c := exec.Command("sudo", "-n", "true")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("sudo -n true: %v %s", err, out)
	}
	return float64(c.Process.Pid)
}

// The PAM and NSS backdoors of 2025-2026 load through the stacks, not the
// loader's variables: a module no package installed, added to sudo's stack
// by a shell, is reported when the stack is written (naming the module and
// the writer) and when sudo (or su, from its stack) loads it; pam_unix.so modified in place is
// tampered when sudo loads it; a rogue NSS source is reported when
// nsswitch.conf names it; pam_exec handing out the password is reported.
// A packaged module added by an administrator raises nothing.
func TestAuthenticationStacks(t *testing.T) {
	requireSudo(t)
	s := startSensor(t, "-no-sweep")

	// An unowned module added to sudo's stack.
	compileModule(t, rogueModule, "int pam_sm_open_session(void *h, int f, int c, const char **v) { return 0; }\n"+
		"int pam_sm_close_session(void *h, int f, int c, const char **v) { return 0; }\n"+
		"int pam_sm_authenticate(void *h, int f, int c, const char **v) { return 0; }\n")
	orig, err := os.ReadFile(sudoStack)
	if err != nil {
		t.Fatal(err)
	}
	restore := replaceFile(t, sudoStack, nil)
	sh := float64(runSh(t, "echo 'session optional pam_hwtest.so' >> "+sudoStack))
	s.waitFor("auth-module-unvouched for the module sh added to sudo's stack", func(d map[string]any) bool {
		return isAlert(d, "auth-module-unvouched") && get(d, "process.pid") == sh && str(d, "labels.severity_level") == "critical" &&
			str(d, "dll.path") == rogueModule
	})
	pid := sudoTrue(t)
	s.waitFor("tampered-library for the module sudo loaded", func(d map[string]any) bool {
		return isAlert(d, "tampered-library") && get(d, "process.pid") == pid && str(d, "dll.path") == rogueModule
	})
	restore()

	// The same module in su's stack, and su run by root.
	replaceFile(t, suStack, nil)
	runSh(t, "echo 'session optional pam_hwtest.so' >> "+suStack)
	su := exec.Command("su", "root", "-c", "true")
	if out, err := su.CombinedOutput(); err != nil {
		t.Fatalf("su root -c true: %v %s", err, out)
	}
	s.waitFor("tampered-library for the module su loaded", func(d map[string]any) bool {
		return isAlert(d, "tampered-library") && get(d, "process.pid") == float64(su.Process.Pid) && str(d, "dll.path") == rogueModule
	})

	// pam_unix.so modified in place (same inode, one byte more).
	unix := pamDir + "/pam_unix.so"
	b, err := os.ReadFile(unix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(unix, b, 0o644) })
	if err := os.WriteFile(unix, append(append([]byte{}, b...), 'x'), 0o644); err != nil {
		t.Fatal(err)
	}
	pid = sudoTrue(t)
	s.waitFor("tampered-library for pam_unix.so modified in place", func(d map[string]any) bool {
		return isAlert(d, "tampered-library") && get(d, "process.pid") == pid && str(d, "dll.path") == unix &&
			strings.Contains(str(d, "labels.library_findings"), "package_modified")
	})
	os.WriteFile(unix, b, 0o644)

	// A rogue NSS source.
	compileModule(t, rogueNSS, "int _nss_hwtest_getpwnam_r(void) { return 0; }\n")
	replaceFile(t, nsswitch, nil)
	nss, _ := os.ReadFile(nsswitch)
	sh = float64(runSh(t, "sed -i 's/^passwd:.*/& hwtest/' "+nsswitch))
	s.waitFor("auth-module-unvouched for the NSS source", func(d map[string]any) bool {
		return isAlert(d, "auth-module-unvouched") && str(d, "file.path") == nsswitch && str(d, "dll.path") == rogueNSS &&
			byShell(d, sh)
	})
	os.WriteFile(nsswitch, nss, 0o644)

	// pam_exec with expose_authtok, then a packaged module added by an
	// administrator: the first is reported, the second is not.
	sh = float64(runSh(t, "echo 'auth optional pam_exec.so expose_authtok /usr/bin/true' >> "+sudoStack))
	s.waitFor("pam-exec-expose-authtok", func(d map[string]any) bool {
		return isAlert(d, "pam-exec-expose-authtok") && get(d, "process.pid") == sh
	})
	os.WriteFile(sudoStack, orig, 0o644)
	admin := float64(runSh(t, "echo 'session optional pam_env.so' >> "+sudoStack))
	s.waitFor("the administrator's change seen", func(d map[string]any) bool {
		return str(d, "event.kind") == "event" && str(d, "file.path") == sudoStack && get(d, "process.pid") == admin
	})
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && get(d, "process.pid") == admin {
			t.Errorf("a packaged module added by an administrator raised %s: %s", str(d, "event.action"), str(d, "event.reason"))
		}
	}
}

// stackModules are the modules a PAM service's stack loads, includes
// followed, that exist on this host.
func stackModules(t *testing.T, service string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]bool{}
	var walk func(path string)
	walk = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, it := range loaderconf.ParsePAM(path, b, false).Items {
			switch it.Kind {
			case loaderconf.KindInclude:
				walk(it.Path)
			case loaderconf.KindModule:
				if real, err := filepath.EvalSymlinks(it.Path); err == nil {
					out[real] = true
				}
			}
		}
	}
	walk("/etc/pam.d/" + service)
	if len(out) < 3 {
		t.Fatalf("%s's stack names only %v", service, out)
	}
	return out
}

// Every module of sudo's PAM stack reaches the agent as a library sudo
// mapped (with every library written, telemetry: all), and a plain sudo
// raises nothing: its default plugin (sudoers.so) and what that needs are
// loaded on purpose.
func TestSudoStackModulesSeen(t *testing.T) {
	requireSudo(t)
	want := stackModules(t, "sudo")
	s := startSensor(t, "-telemetry", "all", "-no-sweep")
	pid := sudoTrue(t)
	s.waitUntil("every module of sudo's stack seen in sudo", 20*time.Second, func(docs []map[string]any) (bool, string) {
		missing := map[string]bool{}
		for m := range want {
			missing[m] = true
		}
		for _, d := range docs {
			if str(d, "event.action") == "library-loaded" && get(d, "process.pid") == pid {
				delete(missing, str(d, "dll.path"))
			}
		}
		return len(missing) == 0, fmt.Sprintf("not seen: %v", missing)
	})
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && get(d, "process.pid") == pid {
			t.Errorf("a plain sudo raised %s: %s", str(d, "event.action"), str(d, "event.reason"))
		}
	}
}

// keepPamD restores /etc/pam.d as it is now when the test ends: every file's
// content, and no file the test (or a tool it ran) added.
func keepPamD(t *testing.T) {
	t.Helper()
	files, _ := filepath.Glob("/etc/pam.d/*")
	saved := map[string][]byte{}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			saved[f] = b
		}
	}
	t.Cleanup(func() {
		now, _ := filepath.Glob("/etc/pam.d/*")
		for _, f := range now {
			if _, ok := saved[f]; !ok {
				os.Remove(f)
			}
		}
		for f, b := range saved {
			os.WriteFile(f, b, 0o644)
		}
	})
}

// pam-auth-update rewriting the common stacks from the packages' profiles
// (after an administrator removed a line) adds only packaged modules:
// telemetry, no alert.
func TestPamAuthUpdateRaisesNothing(t *testing.T) {
	requireSudo(t)
	if _, err := exec.LookPath("pam-auth-update"); err != nil {
		t.Fatal("pam-auth-update is needed: apt-get install libpam-runtime")
	}
	const common = "/etc/pam.d/common-session"
	orig, err := os.ReadFile(common)
	if err != nil {
		t.Fatal(err)
	}
	keepPamD(t)
	var kept []string
	for _, l := range strings.Split(string(orig), "\n") {
		if !strings.Contains(l, "pam_unix.so") {
			kept = append(kept, l)
		}
	}
	s := startSensor(t, "-no-sweep")
	os.WriteFile(common, []byte(strings.Join(kept, "\n")), 0o644)
	s.waitFor("the administrator's removal seen", func(d map[string]any) bool {
		return str(d, "file.path") == common && strings.Contains(str(d, "labels.removed"), "pam_unix.so")
	})
	c := exec.Command("pam-auth-update", "--package", "--force")
	c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("pam-auth-update: %v %s", err, out)
	}
	pid := float64(c.Process.Pid)
	s.waitFor("pam-auth-update's rewrite seen, pam_unix.so back", func(d map[string]any) bool {
		return str(d, "file.path") == common && strings.Contains(str(d, "labels.added"), "pam_unix.so")
	})
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && (get(d, "process.pid") == pid || get(d, "process.parent.pid") == pid) {
			t.Errorf("pam-auth-update raised %s: %s", str(d, "event.action"), str(d, "event.reason"))
		}
	}
}

// A package upgrade that replaces pam_unix.so (a reinstall of Debian's
// libpam-modules from the archive, which also runs pam-auth-update), then
// sudo: nothing is raised.
func TestPAMPackageReinstallRaisesNothing(t *testing.T) {
	requireSudo(t)
	testlock.Hold(t, testlock.Dpkg)
	keepPamD(t)
	s := startSensor(t, "-telemetry", "all", "-no-sweep")
	c := exec.Command("apt-get", "install", "--reinstall", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300", "libpam-modules")
	c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install --reinstall libpam-modules: %v %s", err, out)
	}
	pid := sudoTrue(t)
	s.waitFor("pam_unix.so loaded by sudo after the reinstall", func(d map[string]any) bool {
		return get(d, "process.pid") == pid && str(d, "dll.path") == pamDir+"/pam_unix.so"
	})
	for _, d := range s.docs() {
		if str(d, "event.kind") != "alert" {
			continue
		}
		// Other test packages run beside this one: only sudo's and the
		// package manager's processes count.
		name := str(d, "process.name")
		if get(d, "process.pid") == pid || name == "dpkg" || name == "apt-get" || name == "pam-auth-update" || parentName(d) == "dpkg" {
			t.Errorf("%s raised %s: %s", name, str(d, "event.action"), str(d, "event.reason"))
		}
	}
}
