// Package daemon assembles a running sensor from a configuration: the
// kernel probe, the agent, the loader configuration watcher, the output,
// metrics and systemd notification, and reloads it on request.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/agent"
	"github.com/hookwatch/hookwatch/sensor/allowlist"
	"github.com/hookwatch/hookwatch/sensor/audit"
	"github.com/hookwatch/hookwatch/sensor/config"
	"github.com/hookwatch/hookwatch/sensor/container"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/fold"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/metrics"
	"github.com/hookwatch/hookwatch/sensor/probe"
	"github.com/hookwatch/hookwatch/sensor/procfs"
	"github.com/hookwatch/hookwatch/sensor/rulesdir"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
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
	// RunDir is where the reload status goes (RunDir when empty).
	RunDir string
}

// ConfigError marks errors in configuration or rules (exit code 2).
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// loadFacts reads the facts file a configuration names (the built-in one
// when it names none).
func loadFacts(c config.Config) (*rules.Set, error) {
	if c.Rules.Facts == "" {
		return rules.Builtin()
	}
	if err := config.CheckRulesPath(c.Rules.Facts); err != nil {
		return nil, err
	}
	return rules.Load(c.Rules.Facts)
}

// Detections is what decides: the Sigma rules and the allowlists, built-in
// and the user's.
type Detections struct {
	Sigma *ruleset.Set
	Allow *allowlist.List
	// UserErrors are the user's rule and allowlist files that could not be
	// used, each naming the file and why; the rest are in force.
	UserErrors []error
}

// loadDetections reads the built-in Sigma rules and allowlists and those
// of the configured rules directory, the Sigma rules with loadSigma
// (ruleset.Load, or ruleset.LoadEdited for `rules test`). A bad user file
// is reported in UserErrors and leaves everything else in force; only a
// broken binary (bad built-in rules) is an error.
func loadDetections(c config.Config, loadSigma func(fs.FS, []rulesdir.File) (*ruleset.Set, []error, error)) (*Detections, error) {
	d := &Detections{}
	dir := c.Rules.Dir
	if err := config.CheckRulesDir(dir); err != nil {
		d.UserErrors = append(d.UserErrors, err)
		dir = ""
	}
	user := rulesdir.Read(dir)
	d.UserErrors = append(d.UserErrors, user.Errs...)
	var errs []error
	var err error
	if d.Sigma, errs, err = loadSigma(rules.Sigma(), user.Rules); err != nil {
		return nil, err
	}
	d.UserErrors = append(d.UserErrors, errs...)
	if d.Allow, errs, err = allowlist.Load(rules.Allowlists(), user.Allowlists); err != nil {
		return nil, err
	}
	d.UserErrors = append(d.UserErrors, errs...)
	return d, nil
}

// logUserErrors says, for each user file that could not be used, which and
// why: the rules in it do not run until it is mended.
func logUserErrors(log logrus.FieldLogger, d *Detections) {
	for _, err := range d.UserErrors {
		log.WithError(err).Error("user rule file not loaded; built-in rules and the other files are in force")
	}
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
	snap, err := Build(cfg)
	if err != nil {
		return err
	}
	rs, dets := snap.Facts, snap.Detections
	logUserErrors(log, dets)
	pub, err := buildPublisher(cfg, o.Version, log)
	if err != nil {
		return ConfigError{err}
	}
	sink := &swapPublisher{p: pub}
	defer sink.Close()

	hostName, _ := os.Hostname()
	host := ecs.Host{Name: hostName, ID: machineID(), Version: o.Version}

	pr, mode, err := StartCollector(cfg, rs, log)
	if err != nil {
		return err
	}
	defer pr.Close()
	if cfg.Metrics.BPFStats && mode == "ebpf" {
		// The kernel counts program run time only while someone asks.
		if st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
			defer st.Close()
		} else {
			log.WithError(err).Warn("BPF run-time statistics unavailable")
		}
	}

	names := users.New("/etc/passwd", "/etc/group")
	folder, err := fold.New(cfg.Output.FoldWindow, cfg.Output.FoldKey)
	if err != nil {
		return fmt.Errorf("output.fold_key: %w", err)
	}
	ag := agent.New(agent.Config{
		Rules: rs, Host: host, Telemetry: cfg.Output.Telemetry, QueueSize: cfg.Agent.Queue,
		MaxProcesses: cfg.Agent.MaxProcesses, Sweep: cfg.Agent.StartupSweep, Proc: procfs.Default(), Fold: folder,
		Containers: container.NewResolver(), ContainerLoader: newContainerLoaders(rs).Is,
		ContainerEngine: snap.containerEngine(names),
		// Repeats of a vouched exec are folded like alerts: counted in the
		// kernel, one summary per fold window.
		VouchSummary: cfg.Output.FoldWindow,
	}, snap.engine(names, log), snap.encoder(host, names), sink, log)
	ag.SetRuleStatus(len(dets.Sigma.Rules()), len(dets.UserErrors))
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
	runDir := o.RunDir
	if runDir == "" {
		runDir = RunDir
	}
	defer removeReloadStatus(runDir)
	metricsAddr := ""
	if ns, ok := PrivatePidNamespace(); ok {
		log.WithField("pid_namespace", ns).Warn("hookwatch runs in a pid namespace of its own (a container): the kernel reports host pids it cannot read in /proc, so processes are judged by what the kernel reports alone (no parent, no command line of a process it did not see start; a credential process reached into is named by pid only); run it in the host's pid namespace")
	}
	ag.OnReady(func() {
		log.WithFields(logrus.Fields{"version": o.Version, "output": cfg.Output.Destination, "collector": mode,
			"credential_programs": len(rs.CredentialPrograms), "metrics": metricsAddr}).Info("hookwatch running")
		if err := writeReloadStatus(runDir, ReloadStatus{OK: true, Message: "started"}); err != nil {
			log.WithError(err).Warn("hookwatch reload will not be able to confirm reloads")
		}
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
		run := &running{started: snap, current: snap, names: names, host: host}
		for gen := 1; ; gen++ {
			select {
			case <-runCtx.Done():
				return
			case <-o.Reload:
				notify.Notify("RELOADING=1")
				st := ReloadStatus{Generation: gen, OK: true, Message: "reloaded"}
				if err := reload(o, run, pr, ag, sink, log); err != nil {
					log.WithError(err).Error("reload failed: keeping the running configuration")
					st.OK, st.Message = false, err.Error()
				} else {
					log.Info("configuration reloaded")
				}
				if err := writeReloadStatus(runDir, st); err != nil {
					log.WithError(err).Warn("reload status")
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

// Collector is what the daemon needs of a collector, eBPF or audit.
type Collector interface {
	Run(ctx context.Context, h event.Handler) error
	Watch(pid uint32, why event.Watch) error
	SetWatchedFiles(files, dirs []event.FileID) error
	SetNames(credential, loaders []string) error
	Stats() (event.Stats, uint64, error)
	Close() error
}

// StartCollector starts the collector the configuration asks for. In auto
// mode a failure to load eBPF (no BTF, BPF locked down, EPERM) falls back
// to the audit subsystem, and says why.
func StartCollector(cfg config.Config, rs *rules.Set, log logrus.FieldLogger) (Collector, string, error) {
	var bpfErr error
	if cfg.Collector != "audit" {
		pr, err := LoadProbe(cfg, rs, log)
		if err == nil {
			return pr, "ebpf", nil
		}
		if cfg.Collector == "ebpf" {
			err = fmt.Errorf("starting the eBPF collector: %w", err)
			if errors.Is(err, probe.ErrBPFDenied) {
				err = NoCollectorError{err}
			}
			return nil, "", err
		}
		bpfErr = err
		log.WithError(err).Warn("eBPF collector unavailable: falling back to the audit collector")
	}
	ac, err := audit.New(AuditConfig(cfg, rs), log)
	if err != nil {
		err = fmt.Errorf("starting the audit collector: %w", err)
		if bpfErr != nil {
			err = fmt.Errorf("no collector can run: eBPF: %v; audit: %w", bpfErr, err)
		}
		// Another hookwatch holding the audit socket may be gone by the
		// next start; anything else will fail the same way again.
		if !errors.Is(err, audit.ErrInUse) && (bpfErr != nil || cfg.Collector == "audit") {
			err = NoCollectorError{err}
		}
		return nil, "", err
	}
	return ac, "audit", nil
}

// NoCollectorError: neither collector can run on this host as it is
// (exit status 3, which the unit does not restart on).
type NoCollectorError struct{ Err error }

func (e NoCollectorError) Error() string { return e.Err.Error() }
func (e NoCollectorError) Unwrap() error { return e.Err }

// LoadProbe loads the eBPF collector. HOOKWATCH_TEST_DENY_BPF makes it
// fail as a kernel that refuses BPF would: the tests' way to exercise the
// fallback on a kernel that has BPF.
func LoadProbe(cfg config.Config, rs *rules.Set, log logrus.FieldLogger) (*probe.Probe, error) {
	if os.Getenv("HOOKWATCH_TEST_DENY_BPF") != "" {
		return nil, fmt.Errorf("loading BPF objects: %w (denied by HOOKWATCH_TEST_DENY_BPF)", os.ErrPermission)
	}
	return probe.Load(ProbeConfig(cfg, rs), log)
}

// AuditConfig is the audit collector's configuration.
func AuditConfig(cfg config.Config, rs *rules.Set) audit.Config {
	var paths []string
	for _, c := range append(append([]rules.ConfPath{}, rs.LoaderConf.Files...), rs.LoaderConf.Directories...) {
		// A watch needs an existing parent directory.
		if _, err := os.Stat(filepath.Dir(c.Path)); err == nil {
			paths = append(paths, c.Path)
		}
	}
	return audit.Config{
		CredentialPrograms: rs.CredentialPrograms, LoaderNames: rs.LoaderNames, LoaderVars: rs.LoaderVariables,
		ConfigPaths: paths, WatchedOnly: cfg.Audit.Exec == "watched", Proc: procfs.Default(),
		// A restart may overlap the old process's exit.
		LockWait: 10 * time.Second,
	}
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

// running is what the sensor started with (the kernel keeps the loader
// variables and file prefixes of its facts until a restart) and what is
// in force since the last reload.
type running struct {
	started, current *Snapshot
	names            *users.DB
	host             ecs.Host
}

func watchdog(ctx context.Context, every time.Duration, ag *agent.Agent, n *sdnotify.Notifier, log logrus.FieldLogger) {
	tick(ctx, every, func() {
		// Ping only when the agent answers: a stuck agent gets
		// restarted by systemd rather than reported alive.
		if err := ag.Ping(every); err != nil {
			log.WithError(err).Warn("agent did not answer: not pinging the watchdog")
			return
		}
		n.Notify("WATCHDOG=1")
	})
}

// tick calls f every d until ctx is done.
func tick(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// initPidNS is the initial pid namespace's inode (PROC_PID_INIT_INO).
const initPidNS = "pid:[4026531836]"

// PrivatePidNamespace says whether this process runs outside the host's
// pid namespace, and in which.
func PrivatePidNamespace() (string, bool) {
	ns, err := os.Readlink("/proc/self/ns/pid")
	return ns, err == nil && ns != initPidNS
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
