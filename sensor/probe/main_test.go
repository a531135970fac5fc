package probe

import (
	"fmt"
	"os"
	"testing"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

// These tests run preloaded credential programs: the benign replay
// (cmd/hookwatch), which counts every alert on the host, waits for them.
func TestMain(m *testing.M) {
	release, err := testlock.Share(testlock.Quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	release()
	os.Exit(code)
}
