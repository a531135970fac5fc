package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/daemon"
)

// rulesCommand is `hookwatch rules test [-config FILE] [DIR]`: it loads the
// built-in rules and allowlists and those of DIR (default: the configured
// rules directory), reports every file that cannot be used, and runs each
// rule against its own sample events.
func rulesCommand(args []string, stdout io.Writer) error {
	usageErr := usageError{errors.New("usage: hookwatch rules test [-config FILE] [DIR]")}
	if len(args) == 0 || args[0] != "test" {
		return usageErr
	}
	rf := newRunFlags("hookwatch rules test")
	rest := args[1:]
	dir := ""
	if n := len(rest); n > 0 && !strings.HasPrefix(rest[n-1], "-") && (n == 1 || rest[n-2] != "-config") {
		dir, rest = rest[n-1], rest[:n-1]
	}
	if err := rf.parse(rest); err != nil || helpAsked(rest) {
		return err
	}
	cfg, err := rf.load()
	if err != nil {
		return usageError{err}
	}
	if dir != "" {
		cfg.Rules.Dir = dir
	}
	// A rule of DIR with a built-in rule's id is tested instead of it:
	// `hookwatch rules test rules/sigma` tests the rules being edited.
	snap, err := daemon.BuildEdited(cfg)
	if err != nil {
		return err
	}
	d := snap.Detections
	failed := 0
	for _, e := range d.UserErrors {
		fmt.Fprintf(stdout, "INVALID   %v\n", e)
		failed++
	}
	for _, r := range d.Sigma.Rules() {
		// Shipped rules must prove both ways; a user's rule without
		// samples is reported, not failed: it may be a SigmaHQ rule.
		errs := r.Test(r.Builtin)
		switch {
		case len(errs) > 0:
			failed++
			for _, e := range errs {
				fmt.Fprintf(stdout, "FAIL      %s (%s): %v\n", r.Name, r.File, e)
			}
		case len(r.Tests.Match)+len(r.Tests.NoMatch) == 0:
			fmt.Fprintf(stdout, "UNTESTED  %s (%s): no tests block\n", r.Name, r.File)
		default:
			fmt.Fprintf(stdout, "ok        %s [%s %s] %d must match, %d must not\n", r.Name, r.Logsource.Category, r.Level, len(r.Tests.Match), len(r.Tests.NoMatch))
		}
	}
	fmt.Fprintf(stdout, "%d rules, %d allowlist entries, rules directory %q\n", len(d.Sigma.Rules()), len(d.Allow.Entries()), cfg.Rules.Dir)
	if failed > 0 {
		return usageError{fmt.Errorf("%d rule problems (above)", failed)}
	}
	return nil
}
