package detect

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/sensor/loaderconf"
)

// authStack is every authentication stack file on this host, as the
// startup sweep reads them.
func authStack(tb testing.TB) []*loaderconf.Change {
	var out []*loaderconf.Change
	add := func(path, kind string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		p := loaderconf.Parse(kind, path, b)
		out = append(out, &loaderconf.Change{Time: time.Now(), Path: path, Kind: kind, Type: "creation", Startup: true,
			Exists: true, Items: p.Items, Added: p.Items})
	}
	stacks, _ := filepath.Glob("/etc/pam.d/*")
	for _, f := range stacks {
		add(f, "pam")
	}
	add("/etc/pam.conf", "pamconf")
	add("/etc/nsswitch.conf", "nsswitch")
	add("/etc/sudo.conf", "sudoconf")
	add("/etc/ssh/ssh_config", "sshconf")
	add("/etc/ssh/sshd_config", "sshconf")
	if len(out) == 0 {
		tb.Fatal("no authentication stack on this host")
	}
	return out
}

// The host's own stacks, all from its packages, raise nothing at start.
func TestHostAuthStacksRaiseNothing(t *testing.T) {
	e := engine(t)
	modules := 0
	for _, c := range authStack(t) {
		ev := e.LoaderConfig(c, nil, nil)
		modules += len(ev.Libraries)
		if a := fired(t, e, ev); a != "" {
			t.Errorf("%s raised %s", c.Path, a)
		}
	}
	if modules < 10 {
		t.Errorf("only %d modules judged: the stacks were not read", modules)
	}
}

// BenchmarkAuthStackColdCheck is the startup check of every PAM stack's
// and NSS source's modules against their packages, with nothing cached
// (a new engine, judge and package database each time; the page cache is
// warm).
func BenchmarkAuthStackColdCheck(b *testing.B) {
	t := &testing.T{}
	changes := authStack(b)
	for b.Loop() {
		b.StopTimer()
		e := engine(t) // built once at start, whatever is checked
		b.StartTimer()
		for _, c := range changes {
			e.Evaluate(e.LoaderConfig(c, nil, nil))
		}
	}
}
