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
)

// usageError marks errors the operator can fix in flags, config or rules.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
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
	case "version":
		fmt.Fprintf(stdout, "hookwatch %s\n", version)
	case "help", "-h", "--help":
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
	return exitFailure
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
  hookwatch version                    print the version
  hookwatch help                       this text

  hookwatch run -h lists the run flags; they override the configuration file
  (/etc/hookwatch/hookwatch.yaml, then /etc/hookwatch/conf.d/*.yaml in name order).
  SIGHUP reloads the configuration and rules; SIGINT and SIGTERM stop.

exit codes:
  0  ok
  1  the sensor failed (run), or cannot run on this host (check)
  2  bad flags, configuration or rules
`)
}
