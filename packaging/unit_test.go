package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The unit's sandbox, as systemd scores it (4.7 before the system call
// filter and the narrower capabilities); that the daemon runs under it is
// TestSystemdHost's.
func TestUnitExposure(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is needed: apt-get install systemd (make deps)")
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "hookwatch.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for hookwatch.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f", level)
	if level >= 4.0 {
		t.Errorf("exposure %.1f, want under 4.0", level)
	}
}

// Package versions from git tags only ever go up along a branch.
func TestVersionFromGit(t *testing.T) {
	script, _ := filepath.Abs("version.sh")
	repo := t.TempDir()
	git := func(date string, args ...string) {
		t.Helper()
		c := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		c.Dir = repo
		c.Env = append(os.Environ(), "GIT_COMMITTER_DATE="+date, "GIT_AUTHOR_DATE="+date)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	version := func() string {
		t.Helper()
		c := exec.Command("sh", script)
		c.Dir = repo
		out, err := c.Output()
		if err != nil {
			t.Fatalf("version.sh: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	var seen []string
	git("2026-12-01T10:00:00Z", "init", "-q")
	git("2026-12-01T10:00:00Z", "commit", "-q", "--allow-empty", "-m", "one")
	seen = append(seen, version())
	git("2026-12-02T10:00:00Z", "commit", "-q", "--allow-empty", "-m", "two")
	seen = append(seen, version())
	git("2026-12-02T10:00:00Z", "tag", "v0.3.0")
	seen = append(seen, version())
	git("2026-12-03T10:00:00Z", "commit", "-q", "--allow-empty", "-m", "three")
	seen = append(seen, version())
	if !strings.HasPrefix(seen[0], "0.0.0+git20261201100000.") || seen[2] != "0.3.0" || !strings.HasPrefix(seen[3], "0.3.0+git20261203100000.") {
		t.Errorf("versions %q", seen)
	}
	for i := 1; i < len(seen); i++ {
		if exec.Command("dpkg", "--compare-versions", seen[i-1], "lt", seen[i]).Run() != nil {
			t.Errorf("%s does not sort before %s", seen[i-1], seen[i])
		}
	}
}
