package judge

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/internal/bounded"
	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
)

const keyutils = "/usr/lib/x86_64-linux-gnu/libkeyutils.so.1.10"

func newJudge(t testing.TB, pkgRoot, root string) *Judge {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return New(rs, &pkgdb.DB{Root: pkgRoot, RPMTimeout: time.Second}, root, 64)
}

func TestPackagedLibraryIsOwnedAndIntact(t *testing.T) {
	j := newJudge(t, "/", "/").Judge(context.Background(), Input{Path: keyutils})
	if j.Err != "" {
		t.Fatal(j.Err)
	}
	if j.Package != "libkeyutils1:amd64" || j.Intact == nil || !*j.Intact || j.Location != "system" {
		t.Errorf("package %q intact %v location %s", j.Package, j.Intact, j.Location)
	}
	if !j.Has(rules.FindingPackageIntact) || j.Has(rules.FindingPackageModified) || j.Score() >= 0 {
		t.Errorf("findings %+v score %d", j.Findings, j.Score())
	}
	if len(j.SHA256) != 64 || len(j.SHA1) != 40 || len(j.MD5) != 32 {
		t.Errorf("hashes %q %q %q", j.SHA256, j.SHA1, j.MD5)
	}
}

// fakeRoot builds a root holding libkeyutils1's dpkg records and the given
// files (path -> content; content "->x" makes a symlink to x).
func fakeRoot(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	info := filepath.Join(root, "var/lib/dpkg/info")
	os.MkdirAll(info, 0o755)
	for _, f := range []string{"libkeyutils1:amd64.list", "libkeyutils1:amd64.md5sums"} {
		b, err := os.ReadFile(filepath.Join("/var/lib/dpkg/info", f))
		if err != nil {
			t.Fatalf("libkeyutils1 must be installed: %v", err)
		}
		os.WriteFile(filepath.Join(info, f), b, 0o644)
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.WriteFile(full, []byte(content), 0o755)
	}
	return root
}

func TestModifiedPackagedLibrary(t *testing.T) {
	orig, err := os.ReadFile(keyutils)
	if err != nil {
		t.Fatal(err)
	}
	mod := bytes.Clone(orig)
	mod[len(mod)/2] ^= 0xff
	root := fakeRoot(t, map[string]string{keyutils: string(mod)})
	j := newJudge(t, root, root).Judge(context.Background(), Input{Path: keyutils})
	if j.Package != "libkeyutils1:amd64" || j.Intact == nil || *j.Intact || !j.Has(rules.FindingPackageModified) {
		t.Errorf("a one-byte change was not seen: package %q intact %v findings %+v err %s", j.Package, j.Intact, j.Findings, j.Err)
	}
}

// The Ebury trick: the packaged soname symlink retargeted to a dropped file.
func TestRetargetedSymlink(t *testing.T) {
	orig, _ := os.ReadFile(keyutils)
	dir := "/usr/lib/x86_64-linux-gnu/"
	root := fakeRoot(t, map[string]string{
		keyutils:                   string(orig),
		dir + "libkeyutils.so.1.9": string(orig) + "trojan",
		dir + "libkeyutils.so.1":   "->libkeyutils.so.1.9",
		dir + "unrelated.so":       "->libkeyutils.so.1.10",
	})
	j := newJudge(t, root, root).Judge(context.Background(), Input{Path: dir + "libkeyutils.so.1.9"})
	if !j.Has(rules.FindingUnownedInSystemDir) || !j.Has(rules.FindingSymlinkRetargeted) {
		t.Fatalf("findings %+v (err %s)", j.Findings, j.Err)
	}
	for _, f := range j.Findings {
		if f.Key == rules.FindingSymlinkRetargeted && !strings.Contains(f.Text, "libkeyutils.so.1 (from package libkeyutils1:amd64)") {
			t.Errorf("finding text: %s", f.Text)
		}
	}
}

func compile(t testing.TB, code string) string {
	dir := t.TempDir()
	src, lib := filepath.Join(dir, "h.c"), filepath.Join(dir, "h.so")
	os.WriteFile(src, []byte(code), 0o644)
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return lib
}

const hookCode = `#include <unistd.h>
#include <string.h>
#include <dirent.h>
ssize_t read(int fd, void *b, size_t n) { return 0; }
int pam_authenticate(void *h, int f) { return 0; }
struct dirent *readdir(DIR *d) { return 0; }
const char *hidden = "/etc/ld.so.preload";
int helper(void) { return 1; }
`

func TestInterposedSymbolsAndOverrides(t *testing.T) {
	lib := compile(t, hookCode)
	j := newJudge(t, "/", "/").Judge(context.Background(), Input{Path: lib})
	if !j.ELF {
		t.Fatal(j.Err)
	}
	for _, want := range []string{"read", "pam_authenticate", "readdir"} {
		if !contains(j.Interposed, want) {
			t.Errorf("interposed %v lacks %s", j.Interposed, want)
		}
	}
	if contains(j.Interposed, "helper") {
		t.Error("helper is not a credential function")
	}
	if !j.Has(rules.FindingHidesFromInspection) || j.Location != "temporary" || j.Package != "" {
		t.Errorf("findings %+v location %s package %q", j.Findings, j.Location, j.Package)
	}
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatal("ssh is needed: apt-get install openssh-client")
	}
	imports, err := NewImports().Of(ssh)
	if err != nil {
		t.Fatal(err)
	}
	over := Overrides(j, imports)
	if !contains(over, "read") || contains(over, "pam_authenticate") {
		t.Errorf("overrides in ssh = %v, want read and not pam_authenticate (ssh does not import it)", over)
	}
}

func TestDeletedAndMemfdReadThroughMapFiles(t *testing.T) {
	lib := compile(t, hookCode)
	want := newJudge(t, "/", "/").Judge(context.Background(), Input{Path: lib}).SHA256
	b, _ := os.ReadFile(lib)

	f, _ := os.Open(lib)
	m, err := unix.Mmap(int(f.Fd()), 0, len(b), unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	os.Remove(lib)

	mfd, err := unix.MemfdCreate("judgetest", 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(mfd, b)
	mm, err := unix.Mmap(mfd, 0, len(b), unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
	unix.Close(mfd)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mm)

	jd := newJudge(t, "/", "/")
	for _, c := range []struct {
		in   Input
		want string
	}{
		{Input{Path: lib, Deleted: true}, "deleted"},
		{Input{Path: "/memfd:judgetest", Memfd: true}, "memfd"},
	} {
		region := m
		if c.want == "memfd" {
			region = mm
		}
		c.in.PID = uint32(os.Getpid())
		c.in.Start, c.in.End = mapping(t, region)
		j := jd.Judge(context.Background(), c.in)
		if j.Location != c.want || j.SHA256 != want || !j.Has(rules.FindingInterposes) {
			t.Errorf("%s: location %s sha256 %s (want %s) err %s", c.want, j.Location, j.SHA256, want, j.Err)
		}
	}
	// Without a live mapping the bytes are out of reach: said, not guessed.
	j := jd.Judge(context.Background(), Input{Path: lib, Deleted: true})
	if j.Location != "deleted" || j.Err == "" || j.SHA256 != "" {
		t.Errorf("deleted without mapping: %+v", j)
	}
}

// mapping finds a region's bounds in /proc/self/maps.
func mapping(t *testing.T, b []byte) (uint64, uint64) {
	addr := uint64(uintptrOf(b))
	maps, _ := os.ReadFile("/proc/self/maps")
	for _, line := range strings.Split(string(maps), "\n") {
		var s, e uint64
		if n, _ := sscanRange(line, &s, &e); n == 2 && s <= addr && addr < e {
			return s, e
		}
	}
	t.Fatalf("no mapping for %x", addr)
	return 0, 0
}

func TestCacheReadsOnceAndNoticesRewrites(t *testing.T) {
	lib := compile(t, hookCode)
	jd := newJudge(t, "/", "/")
	a := jd.Judge(context.Background(), Input{Path: lib})
	b := jd.Judge(context.Background(), Input{Path: lib})
	if jd.Opens() != 1 || a != b {
		t.Fatalf("two judgements read the file %d times", jd.Opens())
	}
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(lib, append(mustRead(t, lib), 0), 0o755)
	c := jd.Judge(context.Background(), Input{Path: lib})
	if jd.Opens() != 2 || c.SHA256 == a.SHA256 {
		t.Errorf("a rewritten file was not judged again (opens %d)", jd.Opens())
	}
}

func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	real, _ := os.ReadFile(keyutils)
	files := map[string][]byte{
		"empty.so":     nil,
		"junk.so":      bytes.Repeat([]byte{0xde, 0xad}, 5000),
		"truncated.so": real[:200],
		"header.so":    append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...),
	}
	for n, b := range files {
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	os.Symlink("loop2", filepath.Join(dir, "loop1"))
	os.Symlink("loop1", filepath.Join(dir, "loop2"))
	os.Mkdir(filepath.Join(dir, "adir.so"), 0o755)
	jd := newJudge(t, "/", "/")
	for _, n := range []string{"empty.so", "junk.so", "truncated.so", "header.so", "loop1", "adir.so", "missing.so"} {
		j := jd.Judge(context.Background(), Input{Path: filepath.Join(dir, n)})
		if j.Err == "" || j.ELF {
			t.Errorf("%s: no reason given (ELF %v)", n, j.ELF)
		}
	}
}

func FuzzReadELF(f *testing.F) {
	real, _ := os.ReadFile(keyutils)
	f.Add(real[:min(len(real), 4096)])
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := readELF(bytes.NewReader(b), int64(len(b)))
		if err != nil && facts != nil {
			t.Fatal("both facts and an error")
		}
	})
}

func BenchmarkJudgeCold(b *testing.B) {
	jd := newJudge(b, "/", "/")
	for i := 0; i < b.N; i++ {
		jd.judged = bounded.NewLRU[key, *Judgement](16) // forget the judgement
		jd.Judge(context.Background(), Input{Path: keyutils})
	}
}

func BenchmarkJudgeWarm(b *testing.B) {
	jd := newJudge(b, "/", "/")
	jd.Judge(context.Background(), Input{Path: keyutils})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		jd.Judge(context.Background(), Input{Path: keyutils})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The version the kernel mapped finds its judgement without the path:
// after the file is replaced, the mapped version is still judged as what
// it was, and a version no judgement knows falls back to the path.
func TestKernelVersionFindsItsJudgement(t *testing.T) {
	lib := compile(t, hookCode)
	jd := newJudge(t, "/", "/")
	var st syscall.Stat_t
	if err := syscall.Stat(lib, &st); err != nil {
		t.Fatal(err)
	}
	mapped := Input{Path: lib, Dev: st.Dev, Ino: st.Ino, Version: event.Version{Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}}
	a := jd.Judge(context.Background(), mapped)
	os.Remove(lib)
	os.WriteFile(lib, []byte("not the library"), 0o755)
	if b := jd.Judge(context.Background(), mapped); b != a || jd.Opens() != 1 {
		t.Errorf("the mapped version was judged again (opens %d): %+v", jd.Opens(), b)
	}
	other := mapped
	other.Version.Ctime++
	if c := jd.Judge(context.Background(), other); c == a || c.ELF || jd.Opens() != 2 {
		t.Errorf("an unknown version was not judged by its path (opens %d, ELF %v)", jd.Opens(), c.ELF)
	}
}
