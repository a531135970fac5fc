package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RunDir is where a running daemon says how its last reload went
// (RuntimeDirectory=hookwatch in the unit).
const RunDir = "/run/hookwatch"

// ReloadStatus is what a daemon says after each reload request: the
// request's number (0 at start) and whether the new configuration is in
// force. `hookwatch reload PID` (the unit's ExecReload) waits for it, so a
// refused drop-in fails the reload job instead of passing silently.
type ReloadStatus struct {
	Generation int
	OK         bool
	Message    string
}

func reloadStatusPath(dir string, pid int) string {
	return filepath.Join(dir, "reload."+strconv.Itoa(pid))
}

// writeReloadStatus replaces the status file in one rename, so a reader
// never sees half of it.
func writeReloadStatus(dir string, st ReloadStatus) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	word := "refused"
	if st.OK {
		word = "ok"
	}
	msg := strings.ReplaceAll(st.Message, "\n", "; ")
	path := reloadStatusPath(dir, os.Getpid())
	tmp := path + ".new"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %s %s\n", st.Generation, word, msg), 0o644); err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	return nil
}

func removeReloadStatus(dir string) {
	os.Remove(reloadStatusPath(dir, os.Getpid()))
}

// ReadReloadStatus reads what the daemon of pid last said.
func ReadReloadStatus(dir string, pid int) (ReloadStatus, error) {
	b, err := os.ReadFile(reloadStatusPath(dir, pid))
	if err != nil {
		return ReloadStatus{}, err
	}
	line := strings.TrimSuffix(string(b), "\n")
	gen, rest, _ := strings.Cut(line, " ")
	word, msg, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(gen)
	if err != nil || (word != "ok" && word != "refused") {
		return ReloadStatus{}, fmt.Errorf("reload status of %d: malformed %q", pid, line)
	}
	return ReloadStatus{Generation: n, OK: word == "ok", Message: msg}, nil
}

// Reload asks the daemon of pid to reload (SIGHUP) and waits for its
// answer: nil once the new configuration is in force, an error with the
// daemon's reason when it was refused.
func Reload(dir string, pid int, signal func(pid int) error, timeout time.Duration) error {
	before, err := ReadReloadStatus(dir, pid)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process %d has no reload status in %s: not a running hookwatch daemon, or not ready yet", pid, dir)
	}
	if err != nil {
		return err
	}
	if err := signal(pid); err != nil {
		return fmt.Errorf("asking %d to reload: %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		st, err := ReadReloadStatus(dir, pid)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err != nil || st.Generation <= before.Generation {
			continue
		}
		if !st.OK {
			return fmt.Errorf("reload refused, the running configuration stays in force: %s", st.Message)
		}
		return nil
	}
	return fmt.Errorf("process %d did not answer the reload request within %s", pid, timeout)
}
