package detect

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

func engine(t *testing.T) *Engine {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cache, err := ldso.ReadCache("/etc/ld.so.cache")
	if err != nil {
		t.Fatal(err)
	}
	return New(rs, ldso.NewResolver(cache), judge.New(rs, pkgdb.New(), "/", 64))
}

func TestExecScoring(t *testing.T) {
	e := engine(t)
	for _, c := range []struct {
		name       string
		exe        string
		credential bool
		env        []string
		args       []string
		want       string // level, or "" for no alert
	}{
		{"credential, tmp", "/usr/bin/ssh", true, []string{"LD_PRELOAD=/tmp/h.so"}, nil, "critical"},
		{"other, tmp", "/usr/bin/cat", false, []string{"LD_PRELOAD=/tmp/h.so"}, nil, "medium"},
		{"other, system", "/usr/bin/cat", false, []string{"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-sysv.so"}, nil, "low"},
		{"bare soname", "/usr/bin/cat", false, []string{"LD_PRELOAD=libjemalloc.so.2"}, nil, "low"},
		{"credential, search path in home", "/usr/bin/sudo", true, []string{"LD_LIBRARY_PATH=/home/eve/lib"}, nil, "medium"},
		{"memfd-ish audit", "/usr/bin/su", true, []string{"LD_AUDIT=/dev/shm/a.so"}, nil, "critical"},
		{"empty value", "/usr/bin/ssh", true, []string{"LD_PRELOAD="}, nil, ""},
		{"not a loader variable", "/usr/bin/ssh", true, []string{"LD_BIND_NOW=1"}, nil, ""},
		{"loader direct", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", false, nil, []string{"ld-linux-x86-64.so.2", "--preload", "/tmp/h.so", "/usr/sbin/sshd"}, "critical"},
		{"loader direct, no hook", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", false, nil, []string{"ld-linux-x86-64.so.2", "--list", "/bin/ls"}, ""},
	} {
		p := &proctable.Process{Executable: c.exe, Credential: c.credential, LoaderEnv: c.env, Args: c.args}
		a := e.Exec(p, &event.Exec{})
		switch {
		case c.want == "" && a != nil:
			t.Errorf("%s: alert %s (%d): %v", c.name, a.Level, a.Score, a.Reasons)
		case c.want != "" && a == nil:
			t.Errorf("%s: no alert, want %s", c.name, c.want)
		case a != nil && a.Level != c.want:
			t.Errorf("%s: level %s (score %d), want %s: %v", c.name, a.Level, a.Score, c.want, a.Reasons)
		}
	}
}

func TestImageLoadExpectedSet(t *testing.T) {
	e := engine(t)
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatal("ssh is needed: apt-get install openssh-client")
	}
	ssh, _ = filepath.EvalSymlinks(ssh)
	p := &proctable.Process{Executable: ssh, Credential: true}
	load := func(path string, mut ...func(*event.ImageLoad)) (*Alert, bool, bool) {
		t.Helper()
		il := &event.ImageLoad{Path: path}
		if id, err := ldso.StatID(path); err == nil {
			il.Dev, il.Ino = id.Dev, id.Ino
		}
		for _, m := range mut {
			m(il)
		}
		alerts, _, expected, repeat := e.ImageLoad(p, il, 0, 0)
		if len(alerts) > 1 {
			t.Fatalf("%d alerts for one library", len(alerts))
		}
		if len(alerts) == 1 {
			return alerts[0], expected, repeat
		}
		return nil, expected, repeat
	}
	if a, expected, _ := load("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"); a != nil || !expected {
		t.Errorf("libcrypto in ssh: alert %v expected %v", a, expected)
	}
	if a, expected, _ := load("/usr/lib/x86_64-linux-gnu/security/pam_unix.so"); a != nil || !expected {
		t.Errorf("PAM module: alert %v expected %v", a, expected)
	}
	// A library the closure lacks, even from a system directory, is news;
	// that its bytes match its package makes it low.
	a, expected, _ := load("/usr/lib/x86_64-linux-gnu/libm.so.6")
	if a == nil || expected || a.Level != "low" || a.Libraries[0].Judgement == nil || !a.Libraries[0].Judgement.Has(rules.FindingPackageIntact) {
		t.Errorf("libm in ssh: alert %+v expected %v", a, expected)
	}
	if _, _, repeat := load("/usr/lib/x86_64-linux-gnu/libm.so.6"); !repeat {
		t.Error("the same library judged twice in one process")
	}
	// The same path, deleted: judged again, never expected.
	a, _, _ = load("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", func(il *event.ImageLoad) { il.Deleted = true })
	if a == nil || a.Libraries[0].Location != "deleted" || a.Level != "critical" {
		t.Errorf("deleted libcrypto: %+v", a)
	}
	a, _, _ = load("/memfd:x", func(il *event.ImageLoad) { il.Memfd = true })
	if a == nil || a.Libraries[0].Location != "memfd" {
		t.Errorf("memfd: %+v", a)
	}
	// Not a credential process: judged, never alerted.
	q := &proctable.Process{Executable: "/usr/bin/cat"}
	if alerts, _, _, _ := e.ImageLoad(q, &event.ImageLoad{Path: "/tmp/h.so"}, 0, 0); alerts != nil {
		t.Errorf("alert in a non-credential process: %+v", alerts)
	}
}
