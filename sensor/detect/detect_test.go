package detect

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/allowlist"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
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
	sg, _, err := ruleset.Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	al, _, err := allowlist.Load(rules.Allowlists(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Rules: rs, Sigma: sg, Allow: al, Resolver: ldso.NewResolver(cache), Judge: judge.New(rs, pkgdb.New(), "/", 64)})
}

// fired names the rules an event matched, with their levels.
func fired(t *testing.T, e *Engine, ev *Event) string {
	t.Helper()
	alerts, errs := e.Evaluate(ev)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var out []string
	for _, a := range alerts {
		out = append(out, a.Rule.Name+"/"+a.Rule.Level)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestExecRules(t *testing.T) {
	e := engine(t)
	fakeroot := "/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-sysv.so"
	if _, err := os.Stat(fakeroot); err != nil {
		t.Fatal("fakeroot is needed: apt-get install fakeroot")
	}
	// A library in /tmp that defines credential functions (libpam's bytes).
	capable := filepath.Join(t.TempDir(), "libhook.so")
	if b, err := os.ReadFile("/usr/lib/x86_64-linux-gnu/libpam.so.0"); err != nil {
		t.Fatal(err)
	} else {
		os.WriteFile(capable, b, 0o755)
	}
	for _, c := range []struct {
		name       string
		exe        string
		credential bool
		env        []string
		args       []string
		want       string // rules fired, "" for none
	}{
		{"credential, tmp", "/usr/bin/ssh", true, []string{"LD_PRELOAD=/tmp/h.so"}, nil, "loader-variable-credential-untrusted/critical"},
		// A library that can do nothing (here: none at all) preloaded into
		// a program that handles no credentials is low.
		{"other, tmp, nothing there", "/usr/bin/cat", false, []string{"LD_PRELOAD=/tmp/h.so"}, nil, "loader-variable-at-exec/low"},
		{"other, tmp, credential functions", "/usr/bin/cat", false, []string{"LD_PRELOAD=" + capable}, nil, "loader-variable-untrusted/medium"},
		{"other, allowlisted", "/usr/bin/cat", false, []string{"LD_PRELOAD=" + fakeroot}, nil, ""},
		{"credential, allowlisted", "/usr/bin/ssh", true, []string{"LD_PRELOAD=" + fakeroot}, nil, ""},
		// fakeroot's own way: a bare name found through LD_LIBRARY_PATH.
		{"credential, bare name as fakeroot sets it", "/usr/bin/ssh", true, []string{"LD_PRELOAD=libfakeroot-sysv.so", "LD_LIBRARY_PATH=" + filepath.Dir(fakeroot)}, nil, ""},
		{"credential, packaged but not allowlisted", "/usr/bin/ssh", true, []string{"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libm.so.6"}, nil, "loader-variable-credential-packaged/low"},
		{"unresolvable bare name", "/usr/bin/cat", false, []string{"LD_PRELOAD=libnothing-here.so.9"}, nil, "loader-variable-at-exec/low"},
		{"credential, search path in home", "/usr/bin/sudo", true, []string{"LD_LIBRARY_PATH=/home/eve/lib"}, nil, "library-path-credential/medium"},
		{"audit module in /dev/shm", "/usr/bin/su", true, []string{"LD_AUDIT=/dev/shm/a.so"}, nil, "loader-variable-credential-untrusted/critical"},
		{"empty value", "/usr/bin/ssh", true, []string{"LD_PRELOAD="}, nil, ""},
		{"not a loader variable", "/usr/bin/ssh", true, []string{"LD_BIND_NOW=1"}, nil, ""},
		{"loader direct", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", false, nil, []string{"ld-linux-x86-64.so.2", "--preload", "/tmp/h.so", "/usr/sbin/sshd"}, "loader-variable-credential-untrusted/critical"},
		{"loader direct, no hook", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", false, nil, []string{"ld-linux-x86-64.so.2", "--list", "/bin/ls"}, ""},
	} {
		p := &proctable.Process{Executable: c.exe, Credential: c.credential, LoaderEnv: c.env, Args: c.args}
		ev := e.Exec(p, nil, &event.Exec{})
		if got := fired(t, e, ev); got != c.want {
			t.Errorf("%s: fired %q, want %q (facts %v)", c.name, got, c.want, ev.Fields)
		}
	}
}

// sshPath is the installed ssh client, its links followed.
func sshPath(t *testing.T) string {
	t.Helper()
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatal("ssh is needed: apt-get install openssh-client")
	}
	ssh, _ = filepath.EvalSymlinks(ssh)
	return ssh
}

func TestImageLoadRules(t *testing.T) {
	e := engine(t)
	ssh := sshPath(t)
	p := &proctable.Process{Executable: ssh, Credential: true}
	load := func(path string, mut ...func(*event.ImageLoad)) (string, *Event, bool) {
		t.Helper()
		il := &event.ImageLoad{Path: path}
		if id, err := ldso.StatID(path); err == nil {
			il.Dev, il.Ino = id.Dev, id.Ino
		}
		for _, m := range mut {
			m(il)
		}
		ev, _, _, repeat := e.ImageLoad(p, nil, il, 0, 0)
		if repeat {
			return "", nil, true
		}
		return fired(t, e, ev), ev, false
	}
	if got, ev, _ := load("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"); got != "" || ev.Fields["Expected"] != true {
		t.Errorf("libcrypto in ssh: %q %v", got, ev.Fields)
	}
	if got, ev, _ := load("/usr/lib/x86_64-linux-gnu/security/pam_unix.so"); got != "" || ev.Fields["Expected"] != true {
		t.Errorf("PAM module: %q %v", got, ev.Fields)
	}
	// A library the closure lacks, even from a system directory, is news;
	// that its bytes match its package makes it low.
	if got, ev, _ := load("/usr/lib/x86_64-linux-gnu/libm.so.6"); got != "unexpected-packaged-library/low" || ev.Fields["LibraryTrust"] != TrustPackaged {
		t.Errorf("libm in ssh: %q %v", got, ev.Fields)
	}
	if _, _, repeat := load("/usr/lib/x86_64-linux-gnu/libm.so.6"); !repeat {
		t.Error("the same library judged twice in one process")
	}
	if got, _, _ := load("/usr/libexec/coreutils/libstdbuf.so"); got != "" {
		t.Errorf("stdbuf's library in ssh: %q", got)
	}
	// The same path, deleted: judged again, never expected.
	if got, ev, _ := load("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", func(il *event.ImageLoad) { il.Deleted = true }); got != "unexpected-library-untrusted/critical" || ev.Libraries[0].Location != "deleted" {
		t.Errorf("deleted libcrypto: %q", got)
	}
	if got, _, _ := load("/memfd:x", func(il *event.ImageLoad) { il.Memfd = true }); got != "unexpected-library-untrusted/critical" {
		t.Errorf("memfd: %q", got)
	}
	// A copy of an allowlisted library elsewhere is not allowlisted.
	copyPath := filepath.Join(t.TempDir(), "libstdbuf.so")
	b, _ := os.ReadFile("/usr/libexec/coreutils/libstdbuf.so")
	os.WriteFile(copyPath, b, 0o755)
	if got, ev, _ := load(copyPath); got != "unexpected-library-untrusted/critical" || ev.Fields["AllowlistName"] != nil {
		t.Errorf("copy of libstdbuf in /tmp: %q %v", got, ev.Fields)
	}
	// libc defines readdir and names /proc/self/maps: intact from its
	// package, that is what libc is, not a hiding library.
	r := &proctable.Process{Executable: ssh, Credential: true}
	libc := "/usr/lib/x86_64-linux-gnu/libc.so.6"
	if ev, _, _, _ := e.ImageLoad(r, nil, &event.ImageLoad{Path: libc}, 0, 0); slices.Contains(ev.Fields["LibraryFindings"].([]string), "hides_from_inspection") {
		t.Errorf("libc findings: %v", ev.Fields["LibraryFindings"])
	}
	// The loader run directly (as ldd does) expects what its program needs.
	ld := &proctable.Process{Executable: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", Args: []string{"/lib64/ld-linux-x86-64.so.2", "--verify", ssh}}
	if ev, _, expected, _ := e.ImageLoad(ld, nil, &event.ImageLoad{Path: libc}, 0, 0); !expected || fired(t, e, ev) != "" {
		t.Errorf("libc under the loader run for ssh: expected %v, fired %q", expected, fired(t, e, ev))
	}
	// Not a credential process: an event, and no rule for it.
	q := &proctable.Process{Executable: "/usr/bin/cat"}
	ev, _, expected, _ := e.ImageLoad(q, nil, &event.ImageLoad{Path: "/tmp/h.so"}, 0, 0)
	if got := fired(t, e, ev); got != "" || expected {
		t.Errorf("alert in a non-credential process: %q", got)
	}
}

// BenchmarkExecEvaluate is the agent's per-exec decision: the facts of an
// exec preloading a library into ssh (judgement cached after the first),
// then the 20 built-in rules over them.
func BenchmarkExecEvaluate(b *testing.B) {
	t := &testing.T{}
	e := engine(t)
	p := &proctable.Process{Executable: "/usr/bin/ssh", Credential: true, LoaderEnv: []string{"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libm.so.6"}, Args: []string{"ssh", "host"}}
	ex := &event.Exec{}
	b.Run("facts", func(b *testing.B) {
		for b.Loop() {
			e.Exec(p, nil, ex)
		}
	})
	ev := e.Exec(p, nil, ex)
	b.Run("rules", func(b *testing.B) {
		for b.Loop() {
			e.Evaluate(ev)
		}
	})
}

// What the engine knows of a process's libraries is its own, by entity
// id: a forked child (the same executable) starts with its parent's
// expected set but judges its libraries itself; an exec starts afresh.
func TestProcessStateByEntity(t *testing.T) {
	e := engine(t)
	ssh := sshPath(t)
	// pam_unix, an expected family, brings libcrypt, which ssh itself
	// does not need.
	pamUnix, crypt := "/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "/usr/lib/x86_64-linux-gnu/libcrypt.so.1"
	load := func(p, parent *proctable.Process, path string) (expected, repeat bool) {
		t.Helper()
		il := &event.ImageLoad{Path: path}
		if id, err := ldso.StatID(path); err == nil {
			il.Dev, il.Ino = id.Dev, id.Ino
		}
		_, _, expected, repeat = e.ImageLoad(p, parent, il, 0, 0)
		return expected, repeat
	}
	parent := &proctable.Process{EntityID: "parent", Executable: ssh, Credential: true}
	if expected, repeat := load(parent, nil, pamUnix); !expected || repeat {
		t.Fatalf("pam_unix in ssh: expected %v, repeat %v", expected, repeat)
	}
	if _, repeat := load(parent, nil, pamUnix); !repeat {
		t.Error("the same library judged twice in one process")
	}
	child := &proctable.Process{EntityID: "child", Executable: ssh, Credential: true}
	if expected, repeat := load(child, parent, crypt); !expected || repeat {
		t.Errorf("libcrypt in ssh's forked child, after pam_unix in its parent: expected %v, repeat %v", expected, repeat)
	}
	if _, repeat := load(child, parent, pamUnix); repeat {
		t.Error("the child's own libraries counted as judged in its parent")
	}
	other := &proctable.Process{EntityID: "other", Executable: ssh, Credential: true}
	if expected, _ := load(other, nil, crypt); expected {
		t.Error("libcrypt expected in an ssh that loaded no PAM module")
	}
	// The same entity after an exec: a new image, nothing judged yet.
	e.Exec(parent, nil, &event.Exec{})
	if _, repeat := load(parent, nil, pamUnix); repeat {
		t.Error("a library of the image before exec counted as judged in the new one")
	}
}

// A credential program rewritten in place (cp over it keeps the inode) is
// judged again: the verdict on its bytes is remembered by version, not by
// device and inode alone.
func TestCredentialProgramRewrittenInPlace(t *testing.T) {
	e := engine(t)
	ssh := sshPath(t)
	b, err := os.ReadFile(ssh)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "ssh")
	if err := os.WriteFile(copyPath, b, 0o755); err != nil {
		t.Fatal(err)
	}
	state := func() any {
		t.Helper()
		p := &proctable.Process{EntityID: "e", Executable: copyPath, Name: "ssh", Credential: true}
		return e.Exec(p, nil, &event.Exec{}).Fields["ImageState"]
	}
	if got := state(); got != ImageCopy {
		t.Fatalf("a copy of ssh: %v", got)
	}
	before, _ := os.Stat(copyPath)
	// The same inode, other bytes (a patched build), a later time.
	patched := append([]byte{}, b...)
	patched[len(patched)-1] ^= 0xff
	f, err := os.OpenFile(copyPath, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(patched)
	f.Close()
	later := before.ModTime().Add(time.Second)
	os.Chtimes(copyPath, later, later)
	if after, _ := os.Stat(copyPath); !os.SameFile(before, after) {
		t.Fatal("rewritten in place, yet another file")
	}
	if got := state(); got != ImageNotPackaged {
		t.Errorf("the copy rewritten in place with other bytes: %v, want %s", got, ImageNotPackaged)
	}
}

// A released event's fields are gone, and the next event does not find
// them in a map handed back.
func TestReleasedFieldsLeaveNothingBehind(t *testing.T) {
	e := engine(t)
	for range 20 {
		ev := e.Exec(&proctable.Process{Executable: "/usr/bin/ssh", Credential: true, LoaderEnv: []string{"LD_PRELOAD=/tmp/h.so"}}, nil, &event.Exec{})
		if ev.Fields["LoaderVariable"] == nil {
			t.Fatal("no LoaderVariable to leave behind")
		}
		Release(ev)
		if ev.Fields != nil {
			t.Fatal("a released event kept its fields")
		}
		next := e.Exec(&proctable.Process{Executable: "/usr/bin/cat"}, nil, &event.Exec{})
		if _, stale := next.Fields["LoaderVariable"]; stale || next.Fields["CredentialTarget"] != false {
			t.Fatalf("the next event has %v", next.Fields)
		}
		Release(next)
	}
	Release(nil)
}
