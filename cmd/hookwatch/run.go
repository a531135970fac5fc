package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/hookwatch/hookwatch/sensor/config"
	"github.com/hookwatch/hookwatch/sensor/daemon"
)

// runFlags are the configuration flags of run and check. Each one set on the
// command line overrides the files, also after a reload.
type runFlags struct {
	fs        *flag.FlagSet
	file, dir string
	set       func(c *config.Config) // applies the flags that were given
	// terminal: standard output is a person's terminal, where ECS lines
	// become console lines unless -output-format names a format.
	terminal bool
}

func newRunFlags(name string) *runFlags {
	r := &runFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := r.fs
	fs.StringVar(&r.file, "config", config.DefaultFile, "configuration `file` (missing: the defaults, unless named here)")
	fs.StringVar(&r.dir, "config-dir", "", "drop-in `directory` merged in name order (default: conf.d beside the file)")
	// Each flag names the configuration key it overrides, beside it.
	flags := map[string]func(*config.Config){}
	str := func(name, def, usage string, to func(*config.Config, string)) {
		v := fs.String(name, def, usage)
		flags[name] = func(c *config.Config) { to(c, *v) }
	}
	dur := func(name string, def time.Duration, usage string, to func(*config.Config, time.Duration)) {
		v := fs.Duration(name, def, usage)
		flags[name] = func(c *config.Config) { to(c, *v) }
	}
	facts := func(c *config.Config, v string) { c.Rules.Facts = v }
	str("facts", "", "facts `file`: credential programs, loader variables, locations, score weights, ATT&CK names (default: built in; the configuration's rules.facts)", facts)
	str("rules", "", "the old name of -facts", facts)
	str("output", "stdout", "where events go: stdout, or an absolute file `path`", func(c *config.Config, v string) { c.Output.Destination = v })
	str("output-format", "ecs", "document format: ecs, defender, cef, or console (one line per event for a person; the default when standard output is a terminal)", func(c *config.Config, v string) { c.Output.Format = v })
	str("telemetry", "loader", "non-alert events: none, loader (execs with loader variables, unexpected libraries, configuration changes), all", func(c *config.Config, v string) { c.Output.Telemetry = v })
	str("log-level", "info", "the agent's own log level: debug, info, warn, error", func(c *config.Config, v string) { c.Log.Level = v })
	str("log-format", "auto", "the agent's own log: text, json, auto (json unless standard error is a terminal)", func(c *config.Config, v string) { c.Log.Format = v })
	str("metrics-listen", "127.0.0.1:9464", "host:port for /metrics and /healthz (\"\": off)", func(c *config.Config, v string) { c.Metrics.Listen = v })
	ring := fs.Uint("ring-buffer-bytes", 4<<20, "kernel ring buffer size, a power of two")
	flags["ring-buffer-bytes"] = func(c *config.Config) { c.Kernel.RingBufferBytes = uint32(*ring) }
	queue := fs.Int("queue", 8192, "events queued between the kernel reader and the agent")
	flags["queue"] = func(c *config.Config) { c.Agent.Queue = *queue }
	noSweep := fs.Bool("no-sweep", false, "skip the startup sweep of running processes and loader configuration")
	flags["no-sweep"] = func(c *config.Config) { c.Agent.StartupSweep = !*noSweep }
	dur("stats-interval", time.Minute, "how often to log counters (0: only at exit)", func(c *config.Config, v time.Duration) { c.Agent.StatsInterval = v })
	dur("fold-window", 5*time.Minute, "repeats of an alert within this window are folded into one follow-up (0: write every alert)", func(c *config.Config, v time.Duration) { c.Output.FoldWindow = v })
	r.set = func(c *config.Config) {
		fs.Visit(func(f *flag.Flag) {
			if to, ok := flags[f.Name]; ok {
				to(c)
			}
		})
	}
	return r
}

func (r *runFlags) parse(args []string) error {
	if err := r.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if r.fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", r.fs.Arg(0))}
	}
	return nil
}

// load reads the files and applies the flags.
func (r *runFlags) load() (config.Config, error) {
	named := false
	r.fs.Visit(func(f *flag.Flag) { named = named || f.Name == "config" })
	dir := r.dir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(r.file), "conf.d")
	}
	cfg, _, err := config.Load(r.file, dir, named)
	if err != nil {
		return cfg, err
	}
	r.set(&cfg)
	formatNamed := false
	r.fs.Visit(func(f *flag.Flag) { formatNamed = formatNamed || f.Name == "output-format" })
	if r.terminal && !formatNamed && cfg.Output.Format == "ecs" && (cfg.Output.Destination == "stdout" || cfg.Output.Destination == "-") {
		cfg.Output.Format = "console"
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("flags: %w", err)
	}
	return cfg, nil
}

func runCommand(args []string, stderr io.Writer) error {
	rf := newRunFlags("hookwatch run")
	if err := rf.parse(args); err != nil || helpAsked(args) {
		return err
	}
	rf.terminal = isTerminal(os.Stdout)
	log := logrus.New()
	log.SetOutput(stderr) // never the event stream
	cfg, err := rf.load()
	if err != nil {
		return usageError{err}
	}
	if err := daemon.ApplyLog(log, cfg.Log, isTerminal(stderr)); err != nil {
		return usageError{err}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	err = daemon.Run(ctx, daemon.Options{Load: rf.load, Version: version, Log: log, Reload: hup})
	var ce daemon.ConfigError
	if errors.As(err, &ce) {
		return usageError{err}
	}
	var nc daemon.NoCollectorError
	if errors.As(err, &nc) {
		return noCollectorError{err}
	}
	return err
}

func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
