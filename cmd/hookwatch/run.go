package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/agent"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/output"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/hookwatch/hookwatch/sensor/probe"
	"github.com/hookwatch/hookwatch/sensor/procfs"
	"github.com/hookwatch/hookwatch/sensor/users"
)

type runOptions struct {
	rulesFile  string
	output     string
	telemetry  string
	logLevel   string
	logFormat  string
	ringBuffer uint
	queue      int
	noSweep    bool
	statsEvery time.Duration
}

// usageError marks errors the operator can fix in flags, config or rules.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func parseRunFlags(args []string) (runOptions, error) {
	var o runOptions
	fs := flag.NewFlagSet("hookwatch run", flag.ContinueOnError)
	fs.StringVar(&o.rulesFile, "rules", "", "detection conditions `file` (default: the rules built in)")
	fs.StringVar(&o.output, "output", "-", "where events go: - for standard output, or a file `path`")
	fs.StringVar(&o.telemetry, "telemetry", agent.TelemetryLoader, "non-alert events to write: none, loader (execs with loader variables, unexpected libraries), all")
	fs.StringVar(&o.logLevel, "log-level", "info", "the agent's own log level: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "auto", "the agent's own log format: text, json, auto (json unless standard error is a terminal)")
	fs.UintVar(&o.ringBuffer, "ring-buffer-bytes", 8<<20, "kernel ring buffer size, a power of two")
	fs.IntVar(&o.queue, "queue", 8192, "events queued between the kernel reader and the agent")
	fs.BoolVar(&o.noSweep, "no-sweep", false, "skip the startup sweep of running processes")
	fs.DurationVar(&o.statsEvery, "stats-interval", time.Minute, "how often to log counters (0: only at exit)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch o.telemetry {
	case agent.TelemetryNone, agent.TelemetryLoader, agent.TelemetryAll:
	default:
		return o, fmt.Errorf("-telemetry: %q is not none, loader or all", o.telemetry)
	}
	if o.ringBuffer < 4096 || o.ringBuffer&(o.ringBuffer-1) != 0 || o.ringBuffer > 1<<30 {
		return o, fmt.Errorf("-ring-buffer-bytes: %d is not a power of two between 4 KiB and 1 GiB", o.ringBuffer)
	}
	return o, nil
}

func newLogger(o runOptions) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(os.Stderr) // never the event stream
	lvl, err := logrus.ParseLevel(o.logLevel)
	if err != nil {
		return nil, usageError{fmt.Errorf("-log-level: %w", err)}
	}
	log.SetLevel(lvl)
	switch o.logFormat {
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	case "auto":
		if term.IsTerminal(int(os.Stderr.Fd())) {
			log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
		} else {
			log.SetFormatter(&logrus.JSONFormatter{})
		}
	default:
		return nil, usageError{fmt.Errorf("-log-format: %q is not text, json or auto", o.logFormat)}
	}
	return log, nil
}

func loadRules(file string) (*rules.Set, error) {
	if file == "" {
		return rules.Builtin()
	}
	return rules.Load(file)
}

func run(ctx context.Context, o runOptions) error {
	log, err := newLogger(o)
	if err != nil {
		return err
	}
	rs, err := loadRules(o.rulesFile)
	if err != nil {
		return usageError{err}
	}
	if len(rs.LoaderVariables) > probe.MaxLoaderVars {
		return usageError{fmt.Errorf("rules: %d loader variables, the kernel matches at most %d", len(rs.LoaderVariables), probe.MaxLoaderVars)}
	}

	cache, err := ldso.ReadCache("/etc/ld.so.cache")
	if err != nil {
		log.WithError(err).Warn("no loader cache: expected sets use the default directories only")
	}
	hostName, _ := os.Hostname()
	host := ecs.Host{Name: hostName, ID: machineID(), Version: version}

	out, err := output.Open(o.output)
	if err != nil {
		return usageError{err}
	}
	defer out.Close()

	pr, err := probe.Load(probe.Config{
		CredentialPrograms: rs.CredentialPrograms,
		LoaderNames:        rs.LoaderNames,
		LoaderVars:         rs.LoaderVariables,
		RingBufferBytes:    uint32(o.ringBuffer),
		FilePrefixes:       rs.LoaderConf.KernelPrefixes,
		SystemInterpreters: rs.LoaderConf.SystemInterpreters,
	}, log)
	if err != nil {
		return fmt.Errorf("starting the eBPF collector: %w", err)
	}
	defer pr.Close()

	jd := judge.New(rs, pkgdb.New(), "/", 4096)
	engine := detect.New(rs, ldso.NewResolver(cache), jd)
	enc := ecs.New(host, users.New("/etc/passwd", "/etc/group"), rs)
	ag := agent.New(agent.Config{
		Rules: rs, Host: host, Telemetry: o.telemetry, QueueSize: o.queue,
		Sweep: !o.noSweep, Proc: procfs.Default(),
		Ready: func() {
			log.WithFields(logrus.Fields{"version": version, "output": o.output, "credential_programs": len(rs.CredentialPrograms)}).Info("hookwatch running")
		},
	}, engine, enc, out, log)

	lc, err := loaderconf.New(rs.LoaderConf, pr, log)
	if err != nil {
		return fmt.Errorf("watching the loader configuration: %w", err)
	}
	ag.WatchFiles(lc)

	stopStats := logStats(ctx, log, pr, ag, o.statsEvery)
	err = ag.Run(ctx, pr)
	stopStats()
	if err != nil {
		return fmt.Errorf("running: %w", err)
	}
	log.Info("hookwatch stopped")
	return nil
}

// logStats logs the kernel's and the agent's counters every interval and
// once more when the returned function is called.
func logStats(ctx context.Context, log logrus.FieldLogger, pr *probe.Probe, ag *agent.Agent, every time.Duration) func() {
	emit := func(msg string) {
		ks, decodeErrs, err := pr.Stats()
		if err != nil {
			log.WithError(err).Warn("reading kernel counters")
			return
		}
		st := ag.Stats()
		log.WithFields(logrus.Fields{
			"kernel_execs": ks.Execs, "kernel_exec_events": ks.ExecEvents, "kernel_map_events": ks.MapEvents,
			"kernel_lost": ks.Lost(), "kernel_watch_full": ks.WatchFull, "kernel_env_truncated": ks.EnvTrunc,
			"decode_errors": decodeErrs, "agent_dropped": st.Dropped.Load(), "written": st.Written.Load(),
			"alerts": st.Alerts.Load(), "write_errors": st.WriteErrors.Load(), "swept": st.Swept.Load(),
			"kernel_file_events": ks.FileEvents, "config_changes": st.Changes.Load(),
		}).Info(msg)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if every <= 0 {
			<-done
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				emit("counters")
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		emit("final counters")
	}
}

// machineID is the host's stable identity (/etc/machine-id), the ECS host.id.
func machineID() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return id
			}
		}
	}
	return ""
}
