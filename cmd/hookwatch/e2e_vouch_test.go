package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// countVouched adds up the execs that the summaries of one program and one
// loader variable report, and counts the exec documents of that program
// with that variable (a vouched exec has none).
func countVouched(docs []map[string]any, comm, env string) (summarized, execDocs int) {
	for _, d := range docs {
		if str(d, "process.name") != comm || !strings.Contains(str(d, "message"), env) {
			continue
		}
		switch str(d, "event.action") {
		case "exec":
			execDocs++
		case "vouched-loader-variable":
			n, _ := strconv.Atoi(str(d, "labels.exec_count"))
			summarized += n
		}
	}
	return summarized, execDocs
}

// An allowlisted preloader on a program that handles no credentials (what
// eatmydata does on a build host): the first exec is judged, the kernel
// counts the rest, and summaries report them all with the exact count; no
// alert, and at most one document per 100 execs. The same variable on a
// credential program is always delivered and judged.
func TestVouchedPreloadIsCountedNotDelivered(t *testing.T) {
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libeatmydata.so"); err != nil {
		t.Fatal("libeatmydata is needed: apt-get install eatmydata (make deps)")
	}
	s := startSensor(t, "-no-sweep", "-fold-window", "2s")
	const n = 400
	const env = "LD_PRELOAD=libeatmydata.so"
	for i := 0; i < n; i++ {
		c := exec.Command("/bin/true")
		c.Env = append(os.Environ(), env)
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
	}
	s.waitUntil("every exec in a summary", 20*time.Second, func(docs []map[string]any) (bool, string) {
		summarized, execDocs := countVouched(docs, "true", env)
		return summarized >= n, fmt.Sprintf("%d summarized, %d exec documents", summarized, execDocs)
	})
	// A credential program with the same variable is judged every time.
	c := exec.Command("ssh", "-V")
	c.Env = append(os.Environ(), env)
	c.Run()
	s.waitFor("ssh -V with eatmydata delivered", func(d map[string]any) bool {
		return str(d, "event.action") == "exec" && get(d, "process.pid") == float64(c.Process.Pid)
	})
	s.stop()

	docs := s.docs()
	summarized, execDocs := countVouched(docs, "true", env)
	if summarized != n || execDocs != 0 {
		t.Errorf("%d execs: %d in summaries, %d exec documents; want %d and 0", n, summarized, execDocs, n)
	}
	var mine int // this program's documents: others on the host may run too
	for _, d := range docs {
		if str(d, "event.kind") == "alert" {
			t.Errorf("alert: %s", str(d, "message"))
		}
		if str(d, "process.name") == "true" {
			mine++
		}
	}
	if mine > n/100 {
		for _, d := range docs {
			if str(d, "process.name") == "true" {
				t.Logf("%s %s %s", str(d, "event.action"), str(d, "dll.path"), str(d, "message"))
			}
		}
		t.Errorf("%d documents for %d execs of true, want at most %d", mine, n, n/100)
	}
	kernel, _ := s.finalCounters()["kernel_vouched"].(float64)
	t.Logf("%d execs: %d counted in the kernel, %d documents", n, int(kernel), mine)
	if kernel < n/2 {
		t.Errorf("only %d of %d execs counted in the kernel", int(kernel), n)
	}
}

// A verdict rests on the library's bytes: when the file changes, the kernel
// forgets it, and the next exec is judged again (here: the new bytes are
// not the ones the allowlist vouches for, an alert).
func TestVouchedVerdictForgottenWhenLibraryChanges(t *testing.T) {
	hook := compileHook(t)
	// Where only root writes, or the library would be untrusted anyway.
	dir, err := os.MkdirTemp("/usr/local/lib", "hookwatch-vouch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	lib := filepath.Join(dir, "libvouch.so")
	b, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lib, b, 0o755)
	sum := sha256.Sum256(b)

	s := startSensor(t, "-no-sweep", "-fold-window", "2s")
	entry := "allowlist:\n  - name: vouch-test\n    description: the test's own preloader\n    paths: [" + dir + "/libvouch.so]\n    sha256: [" + hex.EncodeToString(sum[:]) + "]\n"
	if err := os.WriteFile(filepath.Join(s.rules, "vouch.yml"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binPath, "reload", strconv.Itoa(s.cmd.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	env := "LD_PRELOAD=" + lib
	run := func(n int) {
		for i := 0; i < n; i++ {
			c := exec.Command("/bin/true")
			c.Env = append(os.Environ(), env)
			c.Run()
		}
	}
	run(50)
	s.waitUntil("vouched execs summarized", 20*time.Second, func(docs []map[string]any) (bool, string) {
		summarized, execDocs := countVouched(docs, "true", env)
		return summarized == 50, fmt.Sprintf("%d summarized, %d exec documents", summarized, execDocs)
	})
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" {
			t.Fatalf("alert on the vouched library: %s", str(d, "message"))
		}
	}

	// Other bytes under the vouched name.
	os.WriteFile(lib, append(b, 0), 0o755)
	time.Sleep(200 * time.Millisecond) // the file watch's event reaches the agent
	c := exec.Command("/bin/true")
	c.Env = append(os.Environ(), env)
	c.Run()
	s.waitFor("the changed library judged again", func(d map[string]any) bool {
		return str(d, "event.kind") == "alert" && get(d, "process.pid") == float64(c.Process.Pid)
	})
}
