// Command hookwatch is a Linux sensor for credential API hooking through the
// dynamic linker. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the sensor could not start or failed while running
	exitUsage   = 2 // bad flags, configuration or rules
)

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	cmd := "run"
	if len(args) > 0 && !isFlag(args[0]) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Printf("hookwatch %s\n", version)
		return exitOK
	case "run":
	case "explain":
		if err := explain(args, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "hookwatch: %v\n", err)
			var ue usageError
			if errors.As(err, &ue) {
				return exitUsage
			}
			return exitFailure
		}
		return exitOK
	case "help":
		usage(os.Stdout)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "hookwatch: unknown command %q\n", cmd)
		usage(os.Stderr)
		return exitUsage
	}

	opts, err := parseRunFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hookwatch: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "hookwatch: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}

func isFlag(s string) bool { return len(s) > 0 && s[0] == '-' }

func usage(w *os.File) {
	fmt.Fprint(w, `usage: hookwatch [run] [flags]   run the sensor in the foreground
       hookwatch explain [-pid PID] [-json] PATH
                                   judge one library: hashes, package, symbols
       hookwatch version           print the version
       hookwatch run -h            list the flags

Exit codes: 0 ok, 1 the sensor failed, 2 bad flags, configuration or rules.
`)
}
