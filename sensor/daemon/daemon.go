// Package daemon assembles a running sensor from a configuration: the
// kernel probe, the agent, the loader configuration watcher, the output,
// metrics and systemd notification, and reloads it on request.
package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/agent"
	"github.com/hookwatch/hookwatch/sensor/config"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/metrics"
	"github.com/hookwatch/hookwatch/sensor/output"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/hookwatch/hookwatch/sensor/probe"
	"github.com/hookwatch/hookwatch/sensor/procfs"
	"github.com/hookwatch/hookwatch/sensor/sdnotify"
	"github.com/hookwatch/hookwatch/sensor/users"
)

// Options is what Run needs.
type Options struct {
	// Load reads the configuration; Run calls it at start and on reload.
	Load    func() (config.Config, error)
	Version string
	Log     *logrus.Logger
	// Reload receives a value for each reload request (SIGHUP).
	Reload <-chan os.Signal
}

// ConfigError marks errors in configuration or rules (exit code 2).
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// LoadRules reads the rules a configuration names.
func LoadRules(c config.Config) (*rules.Set, error) {
	if c.Rules.File == "" {
		return rules.Builtin()
	}
	if err := config.CheckRulesPath(c.Rules.File); err != nil {
		return nil, err
	}
	return rules.Load(c.Rules.File)
}

// ApplyLog sets the agent's own log level and format.
func ApplyLog(log *logrus.Logger, c config.Log, isTerminal bool) error {
	lvl, err := logrus.ParseLevel(c.Level)
	if err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	log.SetLevel(lvl)
	switch {
	case c.Format == "json" || (c.Format == "auto" && !isTerminal):
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return nil
}

// Run runs the sensor until ctx is done. Errors in the configuration or
// rules at start are ConfigErrors; nothing is left running on any error.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	cfg, err := o.Load()
	if err != nil {
		return ConfigError{err}
	}
	rs, err := LoadRules(cfg)
	if err != nil {
		return ConfigError{err}
	}
	if len(rs.LoaderVariables) > probe.MaxLoaderVars {
		return ConfigError{fmt.Errorf("rules: %d loader variables, the kernel matches at most %d", len(rs.LoaderVariables), probe.MaxLoaderVars)}
	}
	pub, err := buildPublisher(cfg, o.Version, log)
	if err != nil {
		return ConfigError{err}
	}
	sink := &swapPublisher{p: pub}
	defer sink.Close()

	hostName, _ := os.Hostname()
	host := ecs.Host{Name: hostName, ID: machineID(), Version: o.Version}

	pr, err := probe.Load(ProbeConfig(cfg, rs), log)
	if err != nil {
		return fmt.Errorf("starting the eBPF collector: %w", err)
	}
	defer pr.Close()
	if cfg.Metrics.BPFStats {
		// The kernel counts program run time only while someone asks.
		if st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
			defer st.Close()
		} else {
			log.WithError(err).Warn("BPF run-time statistics unavailable")
		}
	}

	names := users.New("/etc/passwd", "/etc/group")
	ag := agent.New(agent.Config{
		Rules: rs, Host: host, Telemetry: cfg.Output.Telemetry, QueueSize: cfg.Agent.Queue,
		MaxProcesses: cfg.Agent.MaxProcesses, Sweep: cfg.Agent.StartupSweep, Proc: procfs.Default(),
	}, newEngine(rs, log), ecs.New(host, names, rs), sink, log)
	lc, err := loaderconf.New(rs.LoaderConf, pr, log)
	if err != nil {
		return fmt.Errorf("watching the loader configuration: %w", err)
	}
	ag.WatchFiles(lc)

	notify := sdnotify.New()
	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		wg.Wait()
	}()
	ready := make(chan struct{})
	metricsAddr := ""
	ag.OnReady(func() {
		log.WithFields(logrus.Fields{"version": o.Version, "output": cfg.Output.Destination,
			"credential_programs": len(rs.CredentialPrograms), "metrics": metricsAddr}).Info("hookwatch running")
		notify.Notify("READY=1\nSTATUS=watching")
		close(ready)
	})

	if cfg.Metrics.Listen != "" {
		ms, err := metrics.New(cfg.Metrics.Listen, o.Version, append(sensorMetrics(pr, ag), outputMetrics(sink)...), func() error { return ag.Ping(time.Second) }, log)
		if err != nil {
			return ConfigError{err}
		}
		metricsAddr = ms.Addr()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ms.Serve(runCtx); err != nil {
				log.WithError(err).Error("metrics")
			}
		}()
	}
	if every := sdnotify.WatchdogInterval(); every > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchdog(runCtx, every, ag, notify, log)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		logStats(runCtx, log, pr, ag, cfg.Agent.StatsInterval)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ready:
		case <-runCtx.Done():
			return
		}
		for {
			select {
			case <-runCtx.Done():
				return
			case <-o.Reload:
				notify.Notify("RELOADING=1")
				if err := reload(o, cfg, pr, ag, sink, log); err != nil {
					log.WithError(err).Error("reload failed: keeping the running configuration")
				} else {
					log.Info("configuration reloaded")
				}
				notify.Notify("READY=1")
			}
		}
	}()

	err = ag.Run(runCtx, pr)
	notify.Notify("STOPPING=1")
	stop()
	wg.Wait()
	emitStats(log, pr, ag, "final counters")
	if err != nil {
		return fmt.Errorf("running: %w", err)
	}
	log.Info("hookwatch stopped")
	return nil
}

// ProbeConfig is the kernel side's configuration from the sensor's.
func ProbeConfig(cfg config.Config, rs *rules.Set) probe.Config {
	return probe.Config{
		CredentialPrograms: rs.CredentialPrograms,
		LoaderNames:        rs.LoaderNames,
		LoaderVars:         rs.LoaderVariables,
		RingBufferBytes:    cfg.Kernel.RingBufferBytes,
		FilePrefixes:       rs.LoaderConf.KernelPrefixes,
		SystemInterpreters: rs.LoaderConf.SystemInterpreters,
	}
}

func newEngine(rs *rules.Set, log logrus.FieldLogger) *detect.Engine {
	cache, err := ldso.ReadCache("/etc/ld.so.cache")
	if err != nil {
		log.WithError(err).Warn("no loader cache: expected sets use the default directories only")
	}
	// Under systemd's PrivateTmp hookwatch has a /tmp of its own: judge
	// files as the host sees them, through init's root.
	root := "/"
	if _, err := os.Stat("/proc/1/root/etc"); err == nil {
		root = "/proc/1/root"
	}
	return detect.New(rs, ldso.NewResolver(cache), judge.New(rs, pkgdb.New(), root, 4096))
}

// reload applies a new configuration and rules without detaching the
// probes. What only a restart can change (the kernel's loader variables, the
// ring buffer, the metrics address) is said, and the rest applied.
func reload(o Options, old config.Config, pr *probe.Probe, ag *agent.Agent, sink *swapPublisher, log *logrus.Logger) error {
	cfg, err := o.Load()
	if err != nil {
		return err
	}
	rs, err := LoadRules(cfg)
	if err != nil {
		return err
	}
	oldRules, _ := LoadRules(old)
	if oldRules != nil && (strings.Join(oldRules.LoaderVariables, ",") != strings.Join(rs.LoaderVariables, ",") ||
		strings.Join(oldRules.LoaderConf.KernelPrefixes, ",") != strings.Join(rs.LoaderConf.KernelPrefixes, ",")) {
		log.Warn("loader variables or kernel file prefixes changed: they apply at the next restart")
	}
	if cfg.Kernel.RingBufferBytes != old.Kernel.RingBufferBytes || cfg.Metrics.Listen != old.Metrics.Listen {
		log.Warn("kernel.ring_buffer_bytes and metrics.listen apply at the next restart")
	}
	var newSink *output.Publisher
	if cfg.Output != old.Output || cfg.Syslog != old.Syslog {
		if newSink, err = buildPublisher(cfg, o.Version, log); err != nil {
			return err
		}
	}
	if err := pr.SetNames(rs.CredentialPrograms, rs.LoaderNames); err != nil {
		if newSink != nil {
			newSink.Close()
		}
		return err
	}
	if err := ApplyLog(log, cfg.Log, false); err != nil {
		return err
	}
	// The agent switches in queue order: events before the reload are
	// judged by the old rules, events after by the new.
	ag.Reload(agent.Reload{Rules: rs, Engine: newEngine(rs, log), Telemetry: cfg.Output.Telemetry, Sweep: cfg.Agent.StartupSweep}, func() {
		if newSink != nil {
			sink.swap(newSink)
		}
	})
	return nil
}

func watchdog(ctx context.Context, every time.Duration, ag *agent.Agent, n *sdnotify.Notifier, log logrus.FieldLogger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Ping only when the agent answers: a stuck agent gets
			// restarted by systemd rather than reported alive.
			if err := ag.Ping(every); err != nil {
				log.WithError(err).Warn("agent did not answer: not pinging the watchdog")
				continue
			}
			n.Notify("WATCHDOG=1")
		}
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
