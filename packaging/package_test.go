// Package packaging holds the .deb and .rpm definitions; its test builds
// them and installs, upgrades, removes and purges the .deb for real.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = ".."
	c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("must be root to install packages (the test suite runs as root in CI)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: apt-get install rpm systemd (see .ci/run)", tool)
		}
	}
}

// build makes the packages of one version into dir.
func build(t *testing.T, version, dir string) {
	t.Helper()
	run(t, "make", "package", "VERSION="+version, "PKGVERSION="+version)
	files, _ := filepath.Glob("../dist/*" + version + "*")
	if len(files) != 4 {
		t.Fatalf("make package made %d packages of %s, want 4 (deb and rpm, amd64 and arm64): %v", len(files), version, files)
	}
	for _, f := range files {
		if err := os.Rename(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDebLifecycle(t *testing.T) {
	requireTools(t, "dpkg", "systemd-analyze", "lintian")
	dir := t.TempDir()
	build(t, "1.0.0", dir)
	build(t, "1.0.1", dir)
	// dpkg does not wait for its lock: hold the package database against
	// the other test packages' apt-get.
	testlock.Hold(t, testlock.Dpkg)
	deb := func(v string) string { return filepath.Join(dir, "hookwatch_"+v+"-1_amd64.deb") }
	t.Cleanup(func() { exec.Command("dpkg", "--purge", "hookwatch").Run() })

	// Debian's checker, pedantic, with the overrides the package ships
	// (each with its reason, packaging/lintian-overrides).
	if out, err := exec.Command("lintian", "--pedantic", "--fail-on", "error,warning,pedantic", deb("1.0.0")).CombinedOutput(); err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}
	run(t, "dpkg", "-i", deb("1.0.0"))
	if out := run(t, "/usr/bin/hookwatch", "version"); out != "hookwatch 1.0.0\n" {
		t.Errorf("version: %q", out)
	}
	if out := run(t, "/usr/bin/hookwatch", "check"); !strings.Contains(out, "collector          ebpf") || !strings.Contains(out, "configuration      ok (/etc/hookwatch/hookwatch.yaml)") {
		t.Errorf("check from the installed path:\n%s", out)
	}
	for path, mode := range map[string]os.FileMode{"/etc/hookwatch/hookwatch.yaml": 0o600, "/var/spool/hookwatch": 0o700, "/var/lib/hookwatch": 0o700} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want mode %04o", path, err, fi, mode)
		}
	}
	// The unit as installed passes systemd's own checks.
	if out, err := exec.Command("systemd-analyze", "verify", "/usr/lib/systemd/system/hookwatch.service").CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// An operator's edit survives the upgrade (a noreplace conffile).
	const edit = "  queue: 4242 # edited\n"
	orig, _ := os.ReadFile("/etc/hookwatch/hookwatch.yaml")
	edited := strings.Replace(string(orig), "  #queue: 8192\n", edit, 1)
	if edited == string(orig) {
		t.Fatal("the default configuration has no #queue line to edit")
	}
	os.WriteFile("/etc/hookwatch/hookwatch.yaml", []byte(edited), 0o600)
	run(t, "/usr/bin/hookwatch", "config", "check")
	run(t, "dpkg", "-i", "--force-confold", deb("1.0.1"))
	if out := run(t, "/usr/bin/hookwatch", "version"); out != "hookwatch 1.0.1\n" {
		t.Errorf("after upgrade: %q", out)
	}
	if b, _ := os.ReadFile("/etc/hookwatch/hookwatch.yaml"); !strings.Contains(string(b), edit) {
		t.Errorf("the configuration edit did not survive the upgrade:\n%s", b)
	}

	// Remove keeps the configuration; purge leaves nothing.
	run(t, "dpkg", "-r", "hookwatch")
	if _, err := os.Stat("/usr/bin/hookwatch"); err == nil {
		t.Error("binary left after remove")
	}
	if _, err := os.Stat("/etc/hookwatch/hookwatch.yaml"); err != nil {
		t.Errorf("configuration gone after remove (only purge removes it): %v", err)
	}
	run(t, "dpkg", "-P", "hookwatch")
	for _, p := range []string{"/etc/hookwatch", "/var/lib/hookwatch", "/var/spool/hookwatch", "/usr/lib/systemd/system/hookwatch.service"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after purge", p)
		}
	}
}

func TestRPM(t *testing.T) {
	requireTools(t, "rpm", "rpmlint")
	dir := t.TempDir()
	build(t, "2.0.0", dir)
	rpmFile := filepath.Join(dir, "hookwatch-2.0.0-1.x86_64.rpm")
	// rpmlint, with the filters in packaging/rpmlintrc (each with its reason).
	if out, err := exec.Command("rpmlint", "-r", "rpmlintrc", rpmFile).CombinedOutput(); err != nil || !strings.Contains(string(out), "0 errors, 0 warnings") {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}
	list := run(t, "rpm", "-qlp", rpmFile)
	for _, want := range []string{"/usr/bin/hookwatch", "/usr/lib/systemd/system/hookwatch.service", "/etc/hookwatch/hookwatch.yaml", "/usr/share/man/man8/hookwatch.8.gz", "/etc/hookwatch/rules.d", "/usr/share/doc/hookwatch/sigma/proc_loader_variable_credential_untrusted.yml", "/usr/share/doc/hookwatch/pipelines/hookwatch_sentinel.yml"} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("rpm lacks %s:\n%s", want, list)
		}
	}
	if cfg := run(t, "rpm", "-qcp", rpmFile); !strings.Contains(cfg, "/etc/hookwatch/hookwatch.yaml") {
		t.Errorf("configuration not marked as config: %q", cfg)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpmFile)
	for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "systemctl daemon-reload", "/run/systemd/system"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("scripts lack %q:\n%s", want, scripts)
		}
	}
	// Into a scratch root (its scriptlets need a shell the root lacks).
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--initdb")
	run(t, "rpm", "--root", root, "-i", "--nodeps", "--noscripts", rpmFile)
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hookwatch")); err != nil {
		t.Errorf("not installed in the scratch root: %v", err)
	}
	if out := run(t, "rpm", "--root", root, "-q", "hookwatch"); !strings.HasPrefix(out, "hookwatch-2.0.0-1") {
		t.Errorf("rpm -q: %q", out)
	}
	if out := run(t, "rpm", "--root", root, "-V", "hookwatch"); strings.TrimSpace(out) != "" {
		t.Errorf("rpm -V finds differences:\n%s", out)
	}
}
