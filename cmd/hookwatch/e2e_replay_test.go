package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

// The benign replay (tools/replay/benign.sh), short: sudo, ssh logins, su,
// ssh-keygen, passwd, gpg, ldconfig, ldd, a package installed, upgraded and
// removed, and the software that preloads on purpose (fakeroot, stdbuf,
// faketime, eatmydata, valgrind, jemalloc, a packaged PKCS#11 module) raise
// no alert at any level. It counts the whole host's alerts: the test
// packages that run attacks wait (testlock.Quiet), and so does dpkg.
func TestBenignReplayIsQuiet(t *testing.T) {
	requireRoot(t)
	testlock.Hold(t, testlock.Quiet)
	testlock.Hold(t, testlock.Dpkg)
	out, err := exec.Command("bash", "../../tools/replay/benign.sh", "-b", binPath, "-s", "short", "-q").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the benign replay raised alerts or failed: %v", err)
	}
	if !strings.Contains(string(out), "alerts: 0") {
		t.Errorf("no alert count in the replay's report")
	}
}
