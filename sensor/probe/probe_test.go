package probe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/event"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("must be root to load BPF programs (the test suite runs as root in CI)")
	}
}

// recorder keeps every record; tests filter by pid because other test
// packages run processes at the same time.
type recorder struct {
	mu     sync.Mutex
	execs  []*event.Exec
	images []*event.ImageLoad
	files  []*event.FileOp
	access []*event.Access
}

func (r *recorder) Access(e *event.Access) {
	r.mu.Lock()
	r.access = append(r.access, e)
	r.mu.Unlock()
}

func (r *recorder) accesses() []*event.Access {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Access(nil), r.access...)
}

func (r *recorder) FileOp(e *event.FileOp) {
	r.mu.Lock()
	r.files = append(r.files, e)
	r.mu.Unlock()
}

func (r *recorder) fileOps() []*event.FileOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.FileOp(nil), r.files...)
}

func (r *recorder) Exec(e *event.Exec) {
	r.mu.Lock()
	r.execs = append(r.execs, e)
	r.mu.Unlock()
}

func (r *recorder) ImageLoad(e *event.ImageLoad) {
	r.mu.Lock()
	r.images = append(r.images, e)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]*event.Exec, []*event.ImageLoad) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Exec(nil), r.execs...), append([]*event.ImageLoad(nil), r.images...)
}

func startProbe(t *testing.T, cfg Config) (*Probe, *recorder) {
	t.Helper()
	requireRoot(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	p, err := Load(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p, rec
}

var testVars = []string{"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH"}

// settle waits for records already in the ring buffer to be read.
func settle(p *Probe) {
	time.Sleep(100 * time.Millisecond)
	p.Flush()
	time.Sleep(200 * time.Millisecond)
}

func TestKernelFiltersUnwatchedExecs(t *testing.T) {
	p, rec := startProbe(t, Config{CredentialPrograms: []string{"ssh"}, LoaderVars: testVars})
	before, _, _ := p.Stats()

	var quiet []int
	for i := 0; i < 50; i++ {
		c := exec.Command("/bin/true")
		c.Env = []string{"PATH=/bin", "LD_NOT_A_LOADER_VAR=1", "XLD_PRELOAD=/tmp/x.so"}
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		quiet = append(quiet, c.Process.Pid)
	}
	libm := "/lib/x86_64-linux-gnu/libm.so.6"
	loud := exec.Command("/bin/true", "loud")
	loud.Env = []string{"A=1", "LD_AUDIT=", "LD_PRELOAD=" + libm, "Z=2"}
	if err := loud.Run(); err != nil {
		t.Fatal(err)
	}
	settle(p)

	execs, images := rec.snapshot()
	isQuiet := map[uint32]bool{}
	for _, pid := range quiet {
		isQuiet[uint32(pid)] = true
	}
	var got *event.Exec
	for _, e := range execs {
		if isQuiet[e.PID] {
			t.Errorf("unwatched exec of pid %d reached userspace: %+v", e.PID, e)
		}
		if e.PID == uint32(loud.Process.Pid) {
			got = e
		}
	}
	for _, il := range images {
		if isQuiet[il.PID] {
			t.Errorf("mapping in unwatched pid %d reached userspace: %s", il.PID, il.Path)
		}
	}
	if got == nil {
		t.Fatal("the exec with LD_PRELOAD was not delivered")
	}
	// Only the loader variables, in order, never the rest of the environment.
	if want := []string{"LD_AUDIT=", "LD_PRELOAD=" + libm}; fmt.Sprint(got.LoaderEnv) != fmt.Sprint(want) {
		t.Errorf("LoaderEnv = %q, want %q", got.LoaderEnv, want)
	}
	if got.Executable != "/usr/bin/true" || fmt.Sprint(got.Args) != "[/bin/true loud]" || got.Watch&event.WatchLoaderEnv == 0 {
		t.Errorf("exec record: %+v", got)
	}
	after, _, _ := p.Stats()
	if after.Execs-before.Execs < 51 {
		t.Errorf("kernel counted %d execs, want at least 51", after.Execs-before.Execs)
	}
	if after.Lost() != 0 {
		t.Errorf("kernel lost %d records", after.Lost())
	}
}

// TestLoaderVariableAcrossChunkBoundaries puts LD_PRELOAD at every offset
// around the in-kernel scan's 4 KiB chunk boundaries.
func TestLoaderVariableAcrossChunkBoundaries(t *testing.T) {
	p, rec := startProbe(t, Config{LoaderVars: testVars})
	want := map[uint32]int{}
	for pad := 4070; pad < 4110; pad++ {
		c := exec.Command("/bin/true")
		c.Env = []string{"P=" + strings.Repeat("x", pad-3), "LD_PRELOAD=/x/y.so"}
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		want[uint32(c.Process.Pid)] = pad
	}
	settle(p)
	execs, _ := rec.snapshot()
	for _, e := range execs {
		if pad, ok := want[e.PID]; ok {
			if len(e.LoaderEnv) != 1 || e.LoaderEnv[0] != "LD_PRELOAD=/x/y.so" {
				t.Errorf("padding %d: LoaderEnv %q", pad, e.LoaderEnv)
			}
			delete(want, e.PID)
		}
	}
	for pid, pad := range want {
		t.Errorf("padding %d (pid %d): LD_PRELOAD not found", pad, pid)
	}
}

func TestEnvironmentBeyondScanIsFlagged(t *testing.T) {
	p, rec := startProbe(t, Config{LoaderVars: testVars})
	var env []string
	for i := 0; i < 3000; i++ { // 300 KiB: more than the kernel scans
		env = append(env, fmt.Sprintf("PAD%04d=%s", i, strings.Repeat("x", 100)))
	}
	c := exec.Command("/bin/true")
	c.Env = env
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	settle(p)
	execs, _ := rec.snapshot()
	for _, e := range execs {
		if e.PID == uint32(c.Process.Pid) {
			if !e.EnvTruncated {
				t.Errorf("EnvTruncated not set: %+v", e)
			}
			return
		}
	}
	t.Error("an environment too large to scan was not handed to userspace")
}

func TestMappingKinds(t *testing.T) {
	fx := buildFixture(t)
	forkLib, delLib, protLib, oddLib := fx.forkLib, fx.delLib(), fx.protLib, fx.oddLib
	fixture := fx.bin

	p, rec := startProbe(t, Config{CredentialPrograms: []string{"hwfixture"}, LoaderVars: testVars})
	cmd := exec.Command(fixture, forkLib, delLib, protLib, oddLib)
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	pids := map[string]uint32{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			n, _ := strconv.Atoi(v)
			pids[k] = uint32(n)
		}
	}
	settle(p)
	main := uint32(cmd.Process.Pid)
	execs, images := rec.snapshot()

	var sawMainExec bool
	for _, e := range execs {
		if e.PID == pids["true"] {
			t.Errorf("the unwatched grandchild's exec reached userspace: %+v", e)
		}
		if e.PID == main && e.Watch&event.WatchCredential != 0 {
			sawMainExec = true
			if got, want := e.ExeVersion, statVersion(t, e.Executable); got != want || e.ExeIno == 0 {
				t.Errorf("exec of %s: version %+v (inode %d), stat says %+v", e.Executable, got, e.ExeIno, want)
			}
		}
	}
	if !sawMainExec {
		t.Error("the watched program's exec was not delivered")
	}
	find := func(desc string, match func(*event.ImageLoad) bool) *event.ImageLoad {
		for _, il := range images {
			if match(il) {
				return il
			}
		}
		var seen []string
		for _, il := range images {
			if il.PID == main || il.PID == pids["child"] {
				seen = append(seen, fmt.Sprintf("%d %q del=%v memfd=%v mprot=%v", il.PID, il.Path, il.Deleted, il.Memfd, il.Mprotect))
			}
		}
		t.Errorf("no mapping: %s; saw:\n%s", desc, strings.Join(seen, "\n"))
		return nil
	}
	if il := find("forked child loads a library", func(il *event.ImageLoad) bool {
		return il.PID == pids["child"] && il.Path == forkLib
	}); il != nil && il.Watch&event.WatchInherited == 0 {
		t.Errorf("child mapping not marked inherited: %+v", il)
	}
	find("memfd", func(il *event.ImageLoad) bool { return il.PID == main && il.Memfd && il.Path == "/memfd:hwtest" })
	find("deleted", func(il *event.ImageLoad) bool { return il.PID == main && il.Deleted && il.Path == delLib })
	find("mprotect", func(il *event.ImageLoad) bool { return il.PID == main && il.Mprotect && il.Path == protLib })
	if il := find("odd path", func(il *event.ImageLoad) bool { return il.PID == main && il.Path == oddLib }); il != nil {
		// The version the agent's caches key on, as stat tells it.
		if want := statVersion(t, oddLib); il.Version != want || il.Ino == 0 {
			t.Errorf("odd path: version %+v ino %d, stat says %+v", il.Version, il.Ino, want)
		}
	}
	for _, il := range images {
		if il.PID == pids["true"] {
			t.Errorf("mapping in the unwatched grandchild reached userspace: %s", il.Path)
		}
	}
}

func statVersion(t *testing.T, path string) event.Version {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return event.Version{Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

// waitBlocked waits until a process sleeps (state S): a fixture run with
// -wait sleeps only in its read of standard input, after exec.
func waitBlocked(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := bytes.LastIndexByte(b, ')'); err == nil && i > 0 && i+2 < len(b) && b[i+2] == 'S' {
			return
		}
	}
	t.Fatalf("process %d never blocked on its input", pid)
}

func TestUserspaceWatch(t *testing.T) {
	fx := buildFixture(t)
	p, rec := startProbe(t, Config{CredentialPrograms: []string{"hwfixture"}, LoaderVars: testVars})
	run := func(watch bool) uint32 {
		// Same program under a name nothing watches.
		cmd := exec.Command(fx.unwatched, "-wait", fx.forkLib, fx.delLib(), fx.protLib, fx.oddLib)
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if watch {
			// Start returns once exec has closed the child's close-on-exec
			// files, before the kernel's sched_process_exec tracepoint,
			// whose handler sets the new image's watch state (dropping a
			// mark made earlier). Mark it once it waits for its line: the
			// exec is over then.
			waitBlocked(t, cmd.Process.Pid)
			if err := p.Watch(uint32(cmd.Process.Pid), 0); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintln(stdin, "go")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		return uint32(cmd.Process.Pid)
	}
	quiet, marked := run(false), run(true)
	settle(p)
	_, images := rec.snapshot()
	var n int
	for _, il := range images {
		if il.PID == quiet {
			t.Errorf("mapping in an unwatched process reached userspace: %s", il.Path)
		}
		if il.PID == marked {
			n++
			if il.Watch&event.WatchUserspace == 0 {
				t.Errorf("mapping not marked as watched from userspace: %+v", il)
			}
		}
	}
	if n < 4 {
		t.Errorf("%d mappings from the process marked watched, want at least 4", n)
	}
}

type fixture struct {
	dir, bin, unwatched string
	forkLib, protLib    string
	oddLib              string
	src                 string
	n                   int
	t                   *testing.T
}

// buildFixture compiles testdata/fixture.c (as "hwfixture", and a copy
// under a name no rule watches) and the libraries it loads.
func buildFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, t: t, src: filepath.Join(dir, "lib.c")}
	os.WriteFile(f.src, []byte("int hw_fixture_lib(void) { return 42; }\n"), 0o644)
	f.forkLib, f.protLib = f.lib("fork.so"), f.lib("prot.so")
	oddDir := filepath.Join(dir, "odd dir\n\xff")
	os.Mkdir(oddDir, 0o755)
	f.oddLib = filepath.Join(oddDir, "o dd.so")
	os.Rename(f.lib("odd.so"), f.oddLib)
	f.bin = filepath.Join(dir, "hwfixture")
	if out, err := exec.Command("gcc", "-o", f.bin, "testdata/fixture.c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("gcc fixture: %v\n%s", err, out)
	}
	f.unwatched = filepath.Join(dir, "plainprog")
	if out, err := exec.Command("cp", f.bin, f.unwatched).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return f
}

func (f *fixture) lib(name string) string {
	p := filepath.Join(f.dir, name)
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", p, f.src).CombinedOutput(); err != nil {
		f.t.Fatalf("gcc: %v\n%s", err, out)
	}
	return p
}

// delLib makes a fresh library for the fixture to unlink.
func (f *fixture) delLib() string {
	f.n++
	return f.lib(fmt.Sprintf("del%d.so", f.n))
}

func TestCloseReleasesEverything(t *testing.T) {
	requireRoot(t)
	countFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	fds, goroutines := countFDs(), runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		p, err := Load(Config{CredentialPrograms: []string{"ssh"}, LoaderVars: testVars}, log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, &recorder{}) }()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := countFDs(); n != fds {
		t.Errorf("%d file descriptors open after Close, %d before", n, fds)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Close, %d before", n, goroutines)
	}
}

func TestLoaderConfigurationFileOps(t *testing.T) {
	// Short: the kernel compares prefixes of at most 64 bytes.
	dir, err := os.MkdirTemp("/tmp", "hw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfgDir := filepath.Join(dir, "etc")
	os.Mkdir(cfgDir, 0o755)
	outside := filepath.Join(dir, "elsewhere")
	os.Mkdir(outside, 0o755)
	preload := filepath.Join(cfgDir, "ld.so.preload")
	os.WriteFile(preload, []byte("old\n"), 0o644)

	p, rec := startProbe(t, Config{LoaderVars: testVars, FilePrefixes: []string{preload}})
	var st, dst unix.Stat_t
	unix.Stat(preload, &st)
	unix.Stat(cfgDir, &dst)
	if err := p.SetWatchedFiles([]event.FileID{{Dev: st.Dev, Ino: st.Ino}}, []event.FileID{{Dev: dst.Dev, Ino: dst.Ino}}); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(outside, "hard")
	sh := func(script string) int {
		c := exec.Command("sh", "-c", script)
		c.Dir = cfgDir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return c.Process.Pid
	}
	writer := sh("echo /tmp/x.so > " + preload) // open for writing by name
	ln := sh("ln " + preload + " " + hard)      // a hard link elsewhere...
	viaLink := sh("echo /tmp/y.so >> " + hard)  // ...written through
	soft := filepath.Join(outside, "soft")
	os.Symlink(preload, soft)
	viaSymlink := sh("echo /tmp/z.so >> " + soft)                   // and through a symlink
	away := sh("mv ld.so.preload ld.so.preload.hidden")             // relative rename away
	back := sh("mv " + cfgDir + "/ld.so.preload.hidden " + preload) // and back, absolute
	sym := sh("ln -s /tmp/evil " + preload + ".d")
	if err := os.Truncate(preload, 0); err != nil { // truncate(2) itself: coreutils opens instead
		t.Fatal(err)
	}
	trunc := os.Getpid()
	rm := sh("rm " + preload)
	quiet := sh("echo x > " + filepath.Join(outside, "other") + "; mv " + filepath.Join(outside, "other") + " " + filepath.Join(outside, "other2"))
	settle(p)

	ops := rec.fileOps()
	find := func(desc string, pid int, match func(*event.FileOp) bool) {
		t.Helper()
		for _, f := range ops {
			if (f.PPID == uint32(pid) || f.PID == uint32(pid)) && match(f) {
				return
			}
		}
		var seen []string
		for _, f := range ops {
			seen = append(seen, fmt.Sprintf("pid %d ppid %d %s %q %q", f.PID, f.PPID, f.Op, f.Path, f.Path2))
		}
		t.Errorf("no file op: %s; saw:\n%s", desc, strings.Join(seen, "\n"))
	}
	find("write by name", writer, func(f *event.FileOp) bool { return f.Op == "open-write" && f.Path == preload && f.Ino == st.Ino })
	find("hard link created", ln, func(f *event.FileOp) bool { return f.Op == "link" && f.Path == preload && f.Path2 == hard })
	find("write through the hard link", viaLink, func(f *event.FileOp) bool { return f.Op == "open-write" && f.Ino == st.Ino })
	find("write through a symlink", viaSymlink, func(f *event.FileOp) bool {
		return f.Op == "open-write" && f.Ino == st.Ino && f.Path == preload
	})
	find("relative rename away", away, func(f *event.FileOp) bool {
		return f.Op == "rename" && f.Path == preload && f.Path2 == preload+".hidden"
	})
	find("rename back", back, func(f *event.FileOp) bool { return f.Op == "rename" && f.Path2 == preload })
	find("symlink", sym, func(f *event.FileOp) bool {
		return f.Op == "symlink" && f.Path == "/tmp/evil" && f.Path2 == preload+".d"
	})
	find("truncate", trunc, func(f *event.FileOp) bool { return f.Op == "truncate" && f.Path == preload })
	find("unlink", rm, func(f *event.FileOp) bool { return f.Op == "unlink" && f.Path == preload })
	for _, f := range ops {
		if f.PPID == uint32(quiet) || f.PID == uint32(quiet) {
			t.Errorf("an unrelated file operation reached userspace: %+v", f)
		}
		if f.PID == uint32(writer) || f.PPID == uint32(writer) {
			if len(f.Ancestors) == 0 {
				t.Errorf("no ancestors: %+v", f)
			}
		}
	}
}

func TestInterpreterChecks(t *testing.T) {
	dir := t.TempDir()
	ldso, err := filepath.EvalSymlinks("/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		t.Fatal(err)
	}
	myld := filepath.Join(dir, "myld.so")
	if out, err := exec.Command("cp", ldso, myld).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	odd := filepath.Join(dir, "oddinterp")
	if out, err := exec.Command("gcc", "-o", odd, src, "-Wl,--dynamic-linker="+myld).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	normal := filepath.Join(dir, "normal")
	if out, err := exec.Command("gcc", "-o", normal, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	p, rec := startProbe(t, Config{LoaderVars: testVars, SystemInterpreters: []string{"/lib64/ld-linux-x86-64.so.2"}})
	run := func(args ...string) uint32 {
		c := exec.Command(args[0], args[1:]...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return uint32(c.Process.Pid)
	}
	oddPID, copyPID, normalPID := run(odd), run(myld, "/bin/true"), run(normal)
	settle(p)
	execs, _ := rec.snapshot()
	var sawOdd, sawCopy bool
	for _, e := range execs {
		switch e.PID {
		case oddPID:
			sawOdd = e.OddInterpreter && e.Interpreter == myld
		case copyPID:
			sawCopy = e.LoaderLike && e.Executable == myld
		case normalPID:
			t.Errorf("a program with the system loader was delivered: %+v", e)
		}
	}
	if !sawOdd {
		t.Error("a program whose interpreter is a copy of the loader was not reported with it")
	}
	if !sawCopy {
		t.Error("a copy of the loader run directly was not reported")
	}
}
