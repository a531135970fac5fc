package daemon

// Reload: a new configuration and rules, applied to the running sensor.

import (
	"reflect"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/sensor/agent"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/output"
)

// reload applies a new configuration and rules without detaching the
// probes. What only a restart can change (the kernel's loader variables, the
// ring buffer, the metrics address) is said, and the rest applied.
func reload(o Options, started running, pr Collector, ag *agent.Agent, sink *swapPublisher, log *logrus.Logger) error {
	old := started.cfg
	cfg, err := o.Load()
	if err != nil {
		return err
	}
	rs, err := LoadRules(cfg)
	if err != nil {
		return err
	}
	dets, err := LoadDetections(cfg)
	if err != nil {
		return err
	}
	logUserErrors(log, dets)
	// Compared with the rules in force, not the old file read again: an
	// edit in place would compare the new file with itself.
	if strings.Join(started.rules.LoaderVariables, ",") != strings.Join(rs.LoaderVariables, ",") ||
		!reflect.DeepEqual(started.rules.LoaderConf, rs.LoaderConf) {
		// The configuration watcher and the kernel's file prefixes keep
		// the files they were started with.
		log.Warn("loader variables or the watched loader configuration (loader_config) changed: they apply at the next restart")
	}
	if cfg.Kernel.RingBufferBytes != old.Kernel.RingBufferBytes || cfg.Metrics.Listen != old.Metrics.Listen ||
		cfg.Output.FoldWindow != old.Output.FoldWindow || !slices.Equal(cfg.Output.FoldKey, old.Output.FoldKey) {
		log.Warn("kernel.ring_buffer_bytes, metrics.listen and output.fold_* apply at the next restart")
	}
	var newSink *output.Publisher
	if !reflect.DeepEqual(cfg.Output, old.Output) || cfg.Syslog != old.Syslog {
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
	// The encoder too: ATT&CK names in new documents follow the facts file.
	ag.Reload(agent.Reload{Rules: rs, Engine: newEngine(rs, dets, started.names, log), Encoder: ecs.New(started.host, started.names, rs, dets.Sigma),
		ContainerEngine: newContainerEngine(rs, dets, started.names),
		Telemetry:       cfg.Output.Telemetry, Sweep: cfg.Agent.StartupSweep}, func() {
		ag.SetRuleStatus(len(dets.Sigma.Rules()), len(dets.UserErrors))
		if newSink != nil {
			sink.swap(newSink)
		}
	})
	return nil
}
