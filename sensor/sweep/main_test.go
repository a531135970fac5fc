package sweep

import (
	"os"
	"testing"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

// These tests run a process with a loader variable: the benign replay
// (cmd/hookwatch), which counts every alert on the host, waits for them.
func TestMain(m *testing.M) { os.Exit(testlock.MainSharing(m, testlock.Quiet)) }
