package daemon

// Reload: a new configuration and rules, applied to the running sensor.

import (
	"reflect"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/sensor/agent"
	"github.com/hookwatch/hookwatch/sensor/output"
)

// reload applies a new configuration and rules without detaching the
// probes. What only a restart can change (the kernel's loader variables, the
// ring buffer, the metrics address) is said, and the rest applied.
func reload(o Options, r *running, pr Collector, ag *agent.Agent, sink *swapPublisher, log *logrus.Logger) error {
	cfg, err := o.Load()
	if err != nil {
		return err
	}
	snap, err := Build(cfg)
	if err != nil {
		return err
	}
	rs, dets := snap.Facts, snap.Detections
	logUserErrors(log, dets)
	// What the kernel keeps is compared with the snapshot it started
	// with, the rest with the one in force (not the old files read again:
	// an edit in place would compare the new file with itself).
	started, old := r.started.Facts, r.current.Config
	if strings.Join(started.LoaderVariables, ",") != strings.Join(rs.LoaderVariables, ",") ||
		!reflect.DeepEqual(started.LoaderConf, rs.LoaderConf) {
		// The configuration watcher and the kernel's file prefixes keep
		// the files they were started with.
		log.Warn("loader variables or the watched loader configuration (loader_config) changed: they apply at the next restart")
	}
	if first := r.started.Config; cfg.Kernel.RingBufferBytes != first.Kernel.RingBufferBytes || cfg.Metrics.Listen != first.Metrics.Listen ||
		cfg.Output.FoldWindow != first.Output.FoldWindow || !slices.Equal(cfg.Output.FoldKey, first.Output.FoldKey) {
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
	ag.Reload(agent.Reload{Rules: rs, Engine: snap.engine(r.names, log), Encoder: snap.encoder(r.host, r.names),
		ContainerEngine: snap.containerEngine(r.names),
		Telemetry:       cfg.Output.Telemetry, Sweep: cfg.Agent.StartupSweep}, func() {
		ag.SetRuleStatus(len(dets.Sigma.Rules()), len(dets.UserErrors))
		if newSink != nil {
			sink.swap(newSink)
		}
	})
	r.current = snap
	return nil
}
