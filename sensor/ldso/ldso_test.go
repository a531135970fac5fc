package ldso

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

func TestRealCacheAndClosureMatchLdd(t *testing.T) {
	cache, err := ReadCache("/etc/ld.so.cache")
	if err != nil {
		t.Fatal(err)
	}
	if cache.Len() == 0 {
		t.Fatal("empty cache")
	}
	exe, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("ssh is needed for this test (openssh-client): %v", err)
	}
	c, err := NewResolver(cache).Resolve(exe)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Missing) > 0 {
		t.Errorf("missing: %v", c.Missing)
	}
	// ldd runs the real loader: every library it lists must be in our closure.
	out, err := exec.Command("ldd", exe).Output()
	if err != nil {
		t.Fatalf("ldd: %v", err)
	}
	re := regexp.MustCompile(`=> (/\S+)`)
	matches := re.FindAllStringSubmatch(string(out), -1)
	if len(matches) < 3 {
		t.Fatalf("ldd listed %d libraries:\n%s", len(matches), out)
	}
	for _, m := range matches {
		id, _ := StatID(m[1])
		real, _ := filepath.EvalSymlinks(m[1])
		if !c.Contains(m[1], id) || !c.Contains(real, FileID{}) {
			t.Errorf("ldd resolves %s, our closure lacks it", m[1])
		}
	}
	if c.Interp == "" || !c.Contains(c.Interp, FileID{}) {
		t.Errorf("interpreter %q not in closure", c.Interp)
	}
}

func TestParseCacheRejectsJunk(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("glibc-ld.so.cache1.1"), []byte("ld.so-1.7.0\x00\xff\xff\xff\xff"), make([]byte, 100)} {
		if _, err := ParseCache(b); err == nil {
			t.Errorf("ParseCache(%q) accepted", b)
		}
	}
}

func TestFromEnv(t *testing.T) {
	got := FromEnv([]string{"LD_PRELOAD=/tmp/a.so /tmp/b.so:libc.so.6", "LD_AUDIT=/x/$LIB/audit.so", "LD_LIBRARY_PATH=/opt/lib;/tmp::", "LD_BIND_NOW=1"})
	var paths []string
	for _, it := range got {
		paths = append(paths, string(it.Kind)+":"+it.Path)
	}
	want := []string{"preload:/tmp/a.so", "preload:/tmp/b.so", "preload:libc.so.6", "audit:" + ExpandTokens("/x/$LIB/audit.so", "amd64"), "searchdir:/opt/lib", "searchdir:/tmp", ":1"}
	if got[3].Path == "/x/$LIB/audit.so" {
		t.Errorf("$LIB not expanded: %q", got[3].Path)
	}
	if len(paths) != len(want) {
		t.Fatalf("got %q, want %q", paths, want)
	}
}

func TestExpandTokens(t *testing.T) {
	if got := ExpandTokens("/usr/${LIB}/x-$PLATFORM.so", "amd64"); got != "/usr/lib/x86_64-linux-gnu/x-x86_64.so" {
		t.Errorf("got %q", got)
	}
	if got := ExpandTokens("/plain", "amd64"); got != "/plain" {
		t.Errorf("got %q", got)
	}
}

func TestParseInvocation(t *testing.T) {
	inv := ParseInvocation([]string{"/lib64/ld-linux-x86-64.so.2", "--preload", "/tmp/h.so:/tmp/i.so", "--audit=/tmp/a.so", "--library-path", "/tmp/lib", "--argv0", "sshd", "/usr/bin/ssh", "-V"})
	if inv.Program != "/usr/bin/ssh" || !reflect.DeepEqual(inv.Args, []string{"-V"}) {
		t.Errorf("program %q args %q", inv.Program, inv.Args)
	}
	var got []string
	for _, it := range inv.Items {
		got = append(got, it.Source+"="+it.Path)
	}
	want := []string{"--preload=/tmp/h.so", "--preload=/tmp/i.so", "--audit=/tmp/a.so", "--library-path=/tmp/lib"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	if inv := ParseInvocation([]string{"ld.so", "--list", "/bin/ls"}); inv.Mode != "list" || inv.Program != "/bin/ls" {
		t.Errorf("--list: %+v", inv)
	}
	if inv := ParseInvocation([]string{"ld.so", "--preload"}); inv.Program != "" {
		t.Errorf("dangling --preload: %+v", inv)
	}
}

func FuzzParseCache(f *testing.F) {
	f.Add([]byte("glibc-ld.so.cache1.1\x01\x00\x00\x00" + string(make([]byte, 100))))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCache(b)
		if err != nil && c != nil {
			t.Fatal("both a cache and an error")
		}
	})
}
