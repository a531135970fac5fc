package sweep

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

type marks map[uint32]event.Watch

func (m marks) Watch(pid uint32, why event.Watch) error { m[pid] |= why; return nil }

// Real processes in /proc: one started with a loader variable is marked and
// reported with its exec and executable mappings; one without is examined
// and left alone.
func TestSweepReportsWhatRanBefore(t *testing.T) {
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	start := func(env ...string) *exec.Cmd {
		c := exec.Command("/bin/sleep", "30")
		c.Env = env
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	// A preload naming no file: the loader says so and runs the program.
	hooked := start("LD_PRELOAD=/nonexistent/hook.so", "PATH=/usr/bin")
	plain := start("PATH=/usr/bin")
	time.Sleep(200 * time.Millisecond) // past the loader: its mappings are made

	m := marks{}
	got := map[uint32]*event.Exec{}
	var imgs map[uint32][]string = map[uint32][]string{}
	n, err := Run(context.Background(), Config{Proc: procfs.Default(), Rules: rs, Self: uint32(os.Getpid())}, m,
		func(e *event.Exec, ims []*event.ImageLoad) {
			got[e.PID] = e
			for _, il := range ims {
				if !il.FromSweep || il.PID != e.PID {
					t.Errorf("mapping %s: not the sweep's or not its process's", il.Path)
				}
				imgs[e.PID] = append(imgs[e.PID], il.Path)
			}
		}, func(pid uint32, err error) { t.Errorf("watching %d: %v", pid, err) })
	if err != nil || n < 2 {
		t.Fatalf("swept %d, %v", n, err)
	}
	hp := uint32(hooked.Process.Pid)
	e := got[hp]
	if e == nil {
		t.Fatalf("the process with LD_PRELOAD was not reported (marks %v)", m[hp])
	}
	if !e.FromSweep || e.Watch&event.WatchLoaderEnv == 0 || m[hp]&event.WatchLoaderEnv == 0 ||
		!slices.Equal(e.LoaderEnv, []string{"LD_PRELOAD=/nonexistent/hook.so"}) || !strings.HasSuffix(e.Executable, "sleep") || e.Comm != "sleep" {
		t.Errorf("exec %+v, mark %v", e, m[hp])
	}
	if !slices.ContainsFunc(imgs[hp], func(p string) bool { return strings.Contains(p, "libc.so") }) {
		t.Errorf("mappings %v lack libc", imgs[hp])
	}
	if pp := uint32(plain.Process.Pid); got[pp] != nil || m[pp] != 0 {
		t.Errorf("a process with nothing the loader acts on was reported or marked")
	}
}
