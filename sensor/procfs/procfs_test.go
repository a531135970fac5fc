package procfs

import (
	"os"
	"reflect"
	"testing"
)

func TestParseMaps(t *testing.T) {
	in := "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 247026                     /usr/bin/cat\n" +
		"7f1c2c028000-7f1c2c17d000 r-xp 00028000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6\n" +
		"7f1c2c200000-7f1c2c201000 r-xp 00000000 00:01 1234                       /memfd:hook (deleted)\n" +
		"7f1c2c300000-7f1c2c301000 r-xp 00000000 fe:00 99                         /tmp/a dir/h ook.so (deleted)\n" +
		"7ffd8e5f1000-7ffd8e5f3000 r-xp 00000000 00:00 0                          [vdso]\n" +
		"7ffd8e5f4000-7ffd8e5f5000 rw-p 00000000 00:00 0 \n"
	got, err := ParseMaps([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d mappings, want 6", len(got))
	}
	want := Mapping{Start: 0x7f1c2c300000, End: 0x7f1c2c301000, Perms: "r-xp", Dev: "fe:00", Inode: 99, Path: "/tmp/a dir/h ook.so", Deleted: true}
	if !reflect.DeepEqual(got[3], want) {
		t.Errorf("got %+v, want %+v", got[3], want)
	}
	if got[2].Path != "/memfd:hook" || !got[2].Deleted || !got[2].Executable() {
		t.Errorf("memfd mapping: %+v", got[2])
	}
	if got[5].Path != "" || got[5].Executable() {
		t.Errorf("anonymous mapping: %+v", got[5])
	}
	for _, bad := range []string{"zz-1 r-xp 0 0:0 0\n", "1-2 r-xp\n", "1-2 rx 0 0:0 0\n", "12 r-xp 0 0:0 0\n"} {
		if _, err := ParseMaps([]byte(bad)); err == nil {
			t.Errorf("ParseMaps(%q) accepted", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	in := "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100 18446744073709551615\n"
	st, err := ParseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if st.Comm != "a (weird) name" || st.PPID != 1 || st.StartTicks != 98765 {
		t.Errorf("got %+v", st)
	}
	if _, err := ParseStat([]byte("1 (x) S 1")); err == nil {
		t.Error("short stat accepted")
	}
}

func TestParseNUL(t *testing.T) {
	got := ParseNUL([]byte("A=1\x00LD_PRELOAD=/tmp/x.so\x00\x00\xff\xfe=\n\x00tail"))
	want := []string{"A=1", "LD_PRELOAD=/tmp/x.so", "", "\xff\xfe=\n", "tail"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSelf(t *testing.T) {
	fs := Default()
	pid := uint32(os.Getpid())
	st, err := fs.Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != uint32(os.Getppid()) || st.UID != uint32(os.Getuid()) {
		t.Errorf("stat of self: %+v", st)
	}
	maps, err := fs.Maps(pid)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := fs.Exe(pid)
	found := false
	for _, m := range maps {
		found = found || (m.Executable() && m.Path == exe)
	}
	if !found {
		t.Errorf("own executable %s not mapped executable in %d mappings", exe, len(maps))
	}
	if _, err := fs.Environ(1 << 30); err == nil {
		t.Error("environment of a missing process read without error")
	}
}

func FuzzParseMaps(f *testing.F) {
	f.Add([]byte("7f1c2c028000-7f1c2c17d000 r-xp 00028000 fe:00 326269 /usr/lib/libc.so.6\n"))
	f.Add([]byte("1-2 ---p 0 0:0 0  /a b (deleted)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMaps(b)
		if err != nil && ms != nil {
			t.Fatal("both mappings and an error")
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5 1 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseStat(b)
	})
}
