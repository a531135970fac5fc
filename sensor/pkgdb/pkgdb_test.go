package pkgdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestLiveLibkeyutils(t *testing.T) {
	o, err := New().Owner(context.Background(), "/usr/lib/x86_64-linux-gnu/libkeyutils.so.1.10")
	if err != nil {
		t.Fatal(err)
	}
	if o.Manager != "dpkg" || o.Package != "libkeyutils1:amd64" || o.DigestAlgo != "md5" || len(o.Digest) != 32 {
		t.Errorf("got %+v", o)
	}
	if o.ListedAs != "/lib/x86_64-linux-gnu/libkeyutils.so.1.10" && o.ListedAs != "/usr/lib/x86_64-linux-gnu/libkeyutils.so.1.10" {
		t.Errorf("listed as %q", o.ListedAs)
	}
	none, err := New().Owner(context.Background(), "/tmp/not-packaged.so")
	if err != nil || none.Package != "" || none.Manager != "dpkg" {
		t.Errorf("unowned: %+v %v", none, err)
	}
}

func TestDiversion(t *testing.T) {
	root := t.TempDir()
	info := filepath.Join(root, "var/lib/dpkg/info")
	os.MkdirAll(info, 0o755)
	os.WriteFile(filepath.Join(info, "libfoo:amd64.list"), []byte("/.\n/usr/lib/libfoo.so.1\n"), 0o644)
	os.WriteFile(filepath.Join(info, "libfoo:amd64.md5sums"), []byte("0123456789abcdef0123456789abcdef  usr/lib/libfoo.so.1\n"), 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/diversions"), []byte("/usr/lib/libfoo.so.1\n/usr/lib/libfoo.so.1.real\nwrapper\n"), 0o644)
	o, err := (&DB{Root: root}).Owner(context.Background(), "/usr/lib/libfoo.so.1.real")
	if err != nil {
		t.Fatal(err)
	}
	if o.Package != "libfoo:amd64" || o.DivertedFrom != "/usr/lib/libfoo.so.1" || o.Digest != "0123456789abcdef0123456789abcdef" {
		t.Errorf("got %+v", o)
	}
}

func TestListsMatchWholeLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.list")
	os.WriteFile(p, []byte("/usr/lib/libx.so.1.2\n/usr/lib/libx.so.1\n"), 0o644)
	buf := make([]byte, 4096)
	has := func(n string) bool { _, ok := fileHasLine(p, []string{n}, buf); return ok }
	if !has("/usr/lib/libx.so.1") || has("/usr/lib/libx.so") || has("/usr/lib/libx.so.1.") {
		t.Error("matched a prefix or missed a line")
	}
}

func TestAliases(t *testing.T) {
	if got := Aliases("/usr/lib/x86_64-linux-gnu/a.so"); !reflect.DeepEqual(got, []string{"/usr/lib/x86_64-linux-gnu/a.so", "/lib/x86_64-linux-gnu/a.so"}) {
		t.Errorf("got %q", got)
	}
	if got := Aliases("/opt/a.so"); len(got) != 1 {
		t.Errorf("got %q", got)
	}
}

func TestParseRPM(t *testing.T) {
	out := []byte("keyutils-libs\t8\n/usr/lib64/libkeyutils.so.1\t\n/usr/lib64/libkeyutils.so.1.10\tabc123\n")
	o := parseRPM(Ownership{Manager: "rpm"}, out, Aliases("/usr/lib64/libkeyutils.so.1.10"))
	if o.Package != "keyutils-libs" || o.DigestAlgo != "sha256" || o.Digest != "abc123" {
		t.Errorf("got %+v", o)
	}
}

func FuzzParseMD5Sums(f *testing.F) {
	f.Add([]byte("3246af5ec57195e9fde5767a9c62c5d8  lib/x86_64-linux-gnu/libkeyutils.so.1.10\n"))
	f.Add([]byte("zz  x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMD5Sums(b)
		if err != nil && m != nil {
			t.Fatal("both a value and an error")
		}
	})
}

func FuzzParseDiversions(f *testing.F) {
	f.Add([]byte("/a\n/b\npkg\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseDiversions(b)
		if err != nil && m != nil {
			t.Fatal("both a value and an error")
		}
	})
}

// A path no list names is answered from the filter once the lists were
// read; a package installed after it is found; a list that cannot
// be read whole leaves no filter behind (it would deny that list's files).
func TestUnlistedPathsFromTheFilter(t *testing.T) {
	root := t.TempDir()
	info := filepath.Join(root, "var/lib/dpkg/info")
	os.MkdirAll(info, 0o755)
	for i := range 50 {
		os.WriteFile(filepath.Join(info, fmt.Sprintf("lib%d.list", i)), []byte(fmt.Sprintf("/.\n/usr\n/usr/lib\n/usr/lib/lib%d.so.1\n", i)), 0o644)
	}
	db := &DB{Root: root}
	owner := func(p string) string {
		t.Helper()
		o, err := db.Owner(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		return o.Package
	}
	if got := owner("/opt/x.so"); got != "" || db.listed == nil {
		t.Fatalf("unlisted path: owner %q, filter %v", got, db.listed != nil)
	}
	for i := range 50 {
		if got, want := owner(fmt.Sprintf("/usr/lib/lib%d.so.1", i)), fmt.Sprintf("lib%d", i); got != want {
			t.Errorf("owner %q, want %q (the filter denied a listed path?)", got, want)
		}
	}
	denied := 0
	for i := range 1000 {
		if !db.listed.mayHave(fmt.Sprintf("/opt/y%d.so", i)) {
			denied++
		}
	}
	if denied < 950 {
		t.Errorf("the filter denied %d of 1000 unlisted paths", denied)
	}

	os.WriteFile(filepath.Join(info, "opt.list"), []byte("/opt/x.so\n"), 0o644)
	later := time.Now().Add(time.Minute)
	os.Chtimes(info, later, later)
	if got := owner("/opt/x.so"); got != "opt" {
		t.Errorf("after an install: owner %q, want opt", got)
	}

	os.Mkdir(filepath.Join(info, "broken.list"), 0o755)
	later = later.Add(time.Minute)
	os.Chtimes(info, later, later)
	if got := owner("/opt/z.so"); got != "" || db.listed != nil {
		t.Errorf("with an unreadable list: owner %q, filter kept %v", got, db.listed != nil)
	}
}

func TestLikelyOwnersFirst(t *testing.T) {
	lists := []string{"/i/adduser.list", "/i/libc6:amd64.list", "/i/openssh-client.list", "/i/zlib1g:amd64.list"}
	got := likelyFirst(lists, "zlib1g:amd64", "ssh")
	want := []string{"/i/zlib1g:amd64.list", "/i/openssh-client.list", "/i/adduser.list", "/i/libc6:amd64.list"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	if got := likelyFirst(lists, "", "ls"); !reflect.DeepEqual(got, lists) {
		t.Errorf("a two-letter stem reordered: %q", got)
	}
}

// Warm leaves the filter behind before any question, on the live database.
func TestWarmLeavesTheFilter(t *testing.T) {
	db := New()
	db.Warm()
	if db.listed == nil {
		t.Fatal("no filter after Warm")
	}
	if !slices.ContainsFunc(Aliases("/usr/lib/x86_64-linux-gnu/libkeyutils.so.1.10"), db.listed.mayHave) {
		t.Error("the filter does not know a packaged library")
	}
	o, err := db.Owner(context.Background(), "/usr/lib/x86_64-linux-gnu/libkeyutils.so.1.10")
	if err != nil || o.Package != "libkeyutils1:amd64" {
		t.Errorf("after Warm: %+v %v", o, err)
	}
}
