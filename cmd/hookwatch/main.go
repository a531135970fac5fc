// Command hookwatch is a Linux sensor for credential API hooking through the
// dynamic linker. See README.md and `hookwatch help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

// Exit codes (also in the help text and the README).
const (
	exitOK      = 0
	exitFailure = 1 // the sensor could not start or failed while running; check: it cannot run here
	exitUsage   = 2 // bad flags, configuration or rules
	// run: no collector can run on this host as it is (bpf() denied and no
	// audit); the unit does not restart on it (RestartPreventExitStatus).
	exitNoCollector = 3
)

// noCollectorError marks a daemon that cannot watch anything here.
type noCollectorError struct{ error }

func (n noCollectorError) Unwrap() error { return n.error }

// usageError marks errors the operator can fix in flags, config or rules.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// The daemon is `hookwatch run`: a bare name started as root
		// should not start watching the host by surprise.
		usage(stderr)
		return exitUsage
	}
	cmd := "run"
	if len(args[0]) == 0 || args[0][0] != '-' || isTopLevelFlag(args[0]) {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runCommand(args, stderr)
	case "check":
		err = checkCommand(args, stdout)
	case "config":
		err = configCommand(args, stdout)
	case "explain":
		err = explain(args, stdout)
	case "rules":
		err = rulesCommand(args, stdout)
	case "reload":
		err = reloadCommand(args, stdout)
	case "simulate":
		err = simulateCommand(args, stdout)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "hookwatch %s\n", version)
	case "help", "-h", "-help", "--help":
		usage(stdout)
	default:
		usage(stderr)
		err = usageError{fmt.Errorf("unknown command %q", cmd)}
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "hookwatch: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var nc noCollectorError
	if errors.As(err, &nc) {
		return exitNoCollector
	}
	return exitFailure
}

// isTopLevelFlag tells the flags that are about hookwatch itself from the
// run flags (`hookwatch -config F` still runs the daemon).
func isTopLevelFlag(a string) bool {
	switch a {
	case "-h", "-help", "--help", "-version", "--version":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprint(w, `hookwatch: a sensor for credential API hooking through the dynamic linker

usage:
  hookwatch [run] [flags]              run the sensor in the foreground (the daemon)
  hookwatch check [-config FILE]       preflight: kernel features, privileges, which collector would run
  hookwatch config check [FILE]        validate a configuration file and its drop-ins
  hookwatch rules test [-config FILE] [DIR]
                                       validate the Sigma rules and allowlists (built-in and
                                       DIR, by default /etc/hookwatch/rules.d) and run each
                                       rule against its own sample events
  hookwatch explain [-pid PID] [-json] PATH
                                       judge one library: hashes, package, symbols
  hookwatch reload PID                 ask the daemon PID to reload and wait until the new
                                       configuration is in force (exit 1 when it was refused)
  hookwatch simulate [-metrics URL] [-timeout D] [-only NAME]
                                       run harmless attacks on this host and check that the
                                       running daemon reports each; PASS/FAIL per scenario
  hookwatch version, --version         print the version
  hookwatch help                       this text

  hookwatch run -h lists the run flags; they override the configuration file
  (/etc/hookwatch/hookwatch.yaml, then /etc/hookwatch/conf.d/*.yaml in name order).
  SIGHUP reloads the configuration and rules (hookwatch reload waits for the
  result); SIGINT and SIGTERM stop. Without arguments: this text, exit 2.

exit codes:
  0  ok
  1  the sensor failed (run), or cannot run on this host (check)
  2  bad flags, configuration or rules
  3  run: no collector can run on this host (bpf() denied and no audit)
`)
}
