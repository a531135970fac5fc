package daemon

import (
	"context"

	"time"

	"github.com/cilium/ebpf"

	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/sensor/agent"
	"github.com/hookwatch/hookwatch/sensor/metrics"
	"github.com/hookwatch/hookwatch/sensor/output"
)

// logStats logs the counters every interval (never when 0).
func logStats(ctx context.Context, log logrus.FieldLogger, pr Collector, ag *agent.Agent, every time.Duration) {
	if every <= 0 {
		<-ctx.Done()
		return
	}
	tick(ctx, every, func() { emitStats(log, pr, ag, "counters") })
}

func emitStats(log logrus.FieldLogger, pr Collector, ag *agent.Agent, msg string) {
	ks, decodeErrs, err := pr.Stats()
	if err != nil {
		log.WithError(err).Warn("reading kernel counters")
		return
	}
	st := ag.Stats()
	fields := logrus.Fields{}
	if r, ok := pr.(interface{ RaceLost() uint64 }); ok {
		fields["audit_race_lost"] = r.RaceLost()
	}
	log.WithFields(fields).WithFields(logrus.Fields{
		"kernel_execs": ks.Execs, "kernel_exec_events": ks.ExecEvents, "kernel_map_events": ks.MapEvents,
		"kernel_file_events": ks.FileEvents, "kernel_access_events": ks.AccessEvents, "kernel_lost": ks.Lost(), "kernel_watch_full": ks.WatchFull,
		"kernel_env_truncated": ks.EnvTrunc, "decode_errors": decodeErrs, "agent_dropped": st.Dropped.Load(),
		"written": st.Written.Load(), "alerts": st.Alerts.Load(), "rule_errors": st.RuleErrors.Load(), "write_errors": st.WriteErrors.Load(),
		"swept": st.Swept.Load(), "config_changes": st.Changes.Load(), "alerts_folded": st.Folded.Load(),
		"kernel_vouched": ks.Vouched, "vouched_summarized": st.VouchedExecs.Load(), "chroot_root_unknown": st.RootUnknown.Load(),
	}).Info(msg)
}

func counter(name, help string, read func() float64) metrics.Metric {
	return metrics.Metric{Name: name, Help: help, Counter: true, Read: func() []metrics.Sample { return []metrics.Sample{{Value: read()}} }}
}

func gauge(name, help string, read func() float64) metrics.Metric {
	return metrics.Metric{Name: name, Help: help, Read: func() []metrics.Sample { return []metrics.Sample{{Value: read()}} }}
}

// sensorMetrics lists what /metrics shows.
func sensorMetrics(pr Collector, ag *agent.Agent) []metrics.Metric {
	st := ag.Stats()
	kernel := func(pick func(k kstats) float64) func() []metrics.Sample {
		return func() []metrics.Sample {
			ks, decodeErrs, err := pr.Stats()
			if err != nil {
				return nil
			}
			return []metrics.Sample{{Value: pick(kstats{ks.Execs, ks.ExecEvents, ks.MapEvents, ks.FileEvents, ks.LostExec, ks.LostMap, ks.LostFile, ks.WatchFull, ks.EnvTrunc, decodeErrs, ks.Vouched})}}
		}
	}
	return []metrics.Metric{
		{Name: "hookwatch_events_total", Help: "Events taken from the collector, by kind.", Labels: []string{"kind"}, Counter: true,
			Read: func() []metrics.Sample {
				return []metrics.Sample{
					{Labels: []string{"exec"}, Value: float64(st.Execs.Load())},
					{Labels: []string{"image_load"}, Value: float64(st.ImageLoads.Load())},
					{Labels: []string{"file_op"}, Value: float64(st.FileOps.Load())},
					{Labels: []string{"access"}, Value: float64(st.Accesses.Load())},
					{Labels: []string{"config_change"}, Value: float64(st.Changes.Load())},
				}
			}},
		{Name: "hookwatch_detections_total", Help: "Alerts raised, by rule.", Labels: []string{"rule_id", "rule_name"}, Counter: true,
			Read: func() []metrics.Sample {
				var out []metrics.Sample
				for _, r := range ag.AlertsByRule() {
					out = append(out, metrics.Sample{Labels: []string{r.ID, r.Name}, Value: float64(r.Count)})
				}
				return out
			}},
		counter("hookwatch_alerts_folded_total", "Alerts folded into a follow-up document instead of written (output.fold_window): each is counted in a follow-up's labels.folded_count.", func() float64 { return float64(st.Folded.Load()) }),
		counter("hookwatch_rule_errors_total", "Rule evaluations that failed (the event was still judged by the other rules).", func() float64 { return float64(st.RuleErrors.Load()) }),
		gauge("hookwatch_rules_loaded", "Sigma rules in force, built-in and the user's.", func() float64 { return float64(st.RulesLoaded.Load()) }),
		gauge("hookwatch_rule_files_rejected", "User rule and allowlist files that could not be loaded (the log says which and why).", func() float64 { return float64(st.RuleFilesRejected.Load()) }),
		counter("hookwatch_documents_written_total", "Documents written to the output.", func() float64 { return float64(st.Written.Load()) }),
		counter("hookwatch_sink_errors_total", "Documents the output could not take.", func() float64 { return float64(st.WriteErrors.Load()) }),
		counter("hookwatch_dropped_events_total", "Events dropped in userspace: the agent's queue was full.", func() float64 { return float64(st.Dropped.Load()) }),
		{Name: "hookwatch_kernel_lost_records_total", Help: "Records the kernel could not put in the ring buffer, by kind.", Labels: []string{"kind"}, Counter: true,
			Read: func() []metrics.Sample {
				ks, _, err := pr.Stats()
				if err != nil {
					return nil
				}
				return []metrics.Sample{
					{Labels: []string{"exec"}, Value: float64(ks.LostExec)},
					{Labels: []string{"map"}, Value: float64(ks.LostMap)},
					{Labels: []string{"file"}, Value: float64(ks.LostFile)},
					{Labels: []string{"access"}, Value: float64(ks.LostAccess)},
				}
			}},
		{Name: "hookwatch_kernel_accesses_total", Help: "ptrace, process_vm_readv/writev and /proc/PID/mem opens the kernel side saw, by outcome: delivered (on a watched credential process), other (on any other process, not delivered), denied (failed on a watched one).", Labels: []string{"outcome"}, Counter: true,
			Read: func() []metrics.Sample {
				ks, _, err := pr.Stats()
				if err != nil {
					return nil
				}
				return []metrics.Sample{
					{Labels: []string{"delivered"}, Value: float64(ks.AccessEvents)},
					{Labels: []string{"other"}, Value: float64(ks.AccessOther)},
					{Labels: []string{"denied"}, Value: float64(ks.AccessDenied)},
				}
			}},
		counter("hookwatch_accesses_ignored_total", "Delivered accesses the agent dropped: the target was gone or not a credential process (callers in another pid namespace).", func() float64 { return float64(st.AccessesIgnored.Load()) }),
		{Name: "hookwatch_kernel_execs_total", Help: "Every exec the kernel side saw.", Counter: true, Read: kernel(func(k kstats) float64 { return float64(k.execs) })},
		{Name: "hookwatch_kernel_vouched_execs_total", Help: "Execs the kernel counted instead of delivering: a program that handles no credentials with one loader variable the agent vouched for (summarized per fold window).", Counter: true, Read: kernel(func(k kstats) float64 { return float64(k.vouched) })},
		counter("hookwatch_vouched_execs_summarized_total", "Of those, execs already written in a summary document.", func() float64 { return float64(st.VouchedExecs.Load()) }),
		counter("hookwatch_chroot_root_unknown_total", "Execs in a chroot whose root directory was gone before it could be opened: judged by the host's files.", func() float64 { return float64(st.RootUnknown.Load()) }),
		{Name: "hookwatch_kernel_watch_full_total", Help: "Processes the kernel could not mark watched (map full).", Counter: true, Read: kernel(func(k kstats) float64 { return float64(k.watchFull) })},
		{Name: "hookwatch_kernel_env_truncated_total", Help: "Environments too large to scan in the kernel (read from /proc instead).", Counter: true, Read: kernel(func(k kstats) float64 { return float64(k.envTrunc) })},
		{Name: "hookwatch_decode_errors_total", Help: "Ring buffer records that could not be decoded.", Counter: true, Read: kernel(func(k kstats) float64 { return float64(k.decodeErrs) })},
		gauge("hookwatch_queue_depth", "Events waiting in the agent's queue.", func() float64 { return float64(ag.QueueDepth()) }),
		gauge("hookwatch_processes_tracked", "Processes held in the agent's context table.", func() float64 { return float64(ag.Processes()) }),
		{Name: "hookwatch_bpf_program_run_seconds_total", Help: "Time the kernel spent in each BPF program (metrics.bpf_stats).", Labels: []string{"program"}, Counter: true,
			Read: func() []metrics.Sample { return programStats(pr, true) }},
		{Name: "hookwatch_bpf_program_runs_total", Help: "Runs of each BPF program (metrics.bpf_stats).", Labels: []string{"program"}, Counter: true,
			Read: func() []metrics.Sample { return programStats(pr, false) }},
		{Name: "hookwatch_audit_race_lost_total", Help: "Audit collector: execs gone before their environment could be read from /proc (their loader variables are unknown; a credential program's libraries still come from audit's open records).", Counter: true,
			Read: func() []metrics.Sample {
				if r, ok := pr.(interface{ RaceLost() uint64 }); ok {
					return []metrics.Sample{{Value: float64(r.RaceLost())}}
				}
				return nil
			}},
	}
}

type kstats struct {
	execs, execEvents, mapEvents, fileEvents, lostExec, lostMap, lostFile, watchFull, envTrunc, decodeErrs, vouched uint64
}

func programStats(pr Collector, runtime bool) []metrics.Sample {
	var out []metrics.Sample
	progs, ok := pr.(interface {
		Programs() map[string]*ebpf.Program
	})
	if !ok {
		return nil // the audit collector runs no BPF
	}
	for name, p := range progs.Programs() {
		st, err := p.Stats()
		if err != nil {
			continue
		}
		if runtime {
			out = append(out, metrics.Sample{Labels: []string{name}, Value: st.Runtime.Seconds()})
		} else {
			out = append(out, metrics.Sample{Labels: []string{name}, Value: float64(st.RunCount)})
		}
	}
	return out
}

// outputMetrics describe delivery: per route, what was sent, what failed,
// the spool, and what the spool had to drop.
func outputMetrics(pub *swapPublisher) []metrics.Metric {
	perNet := func(read func(r output.Route) float64) func() []metrics.Sample {
		return func() []metrics.Sample {
			var out []metrics.Sample
			for _, r := range pub.get().Routes() {
				if r.Net != nil {
					out = append(out, metrics.Sample{Labels: []string{r.Name}, Value: read(r)})
				}
			}
			return out
		}
	}
	sink := []string{"sink"}
	return []metrics.Metric{
		{Name: "hookwatch_syslog_sent_total", Help: "Messages written to the syslog collector (resends included).", Labels: sink, Counter: true,
			Read: perNet(func(r output.Route) float64 { return float64(r.Net.Sent.Load()) })},
		{Name: "hookwatch_syslog_errors_total", Help: "Connection and write failures to the syslog collector.", Labels: sink, Counter: true,
			Read: perNet(func(r output.Route) float64 { return float64(r.Net.SendErrors.Load()) })},
		{Name: "hookwatch_syslog_connected", Help: "1 while the syslog collector is connected.", Labels: sink,
			Read: perNet(func(r output.Route) float64 {
				if r.Net.Connected() {
					return 1
				}
				return 0
			})},
		{Name: "hookwatch_spool_bytes", Help: "Bytes in the on-disk spool.", Labels: sink,
			Read: perNet(func(r output.Route) float64 { return float64(r.Net.Spool().Bytes()) })},
		{Name: "hookwatch_spool_dropped_total", Help: "Messages the full spool dropped, by priority (telemetry goes first).", Labels: []string{"sink", "priority"}, Counter: true,
			Read: func() []metrics.Sample {
				var out []metrics.Sample
				for _, r := range pub.get().Routes() {
					if r.Net != nil {
						out = append(out,
							metrics.Sample{Labels: []string{r.Name, "telemetry"}, Value: float64(r.Net.Spool().DroppedTelemetry.Load())},
							metrics.Sample{Labels: []string{r.Name, "alert"}, Value: float64(r.Net.Spool().DroppedAlerts.Load())})
					}
				}
				return out
			}},
		counter("hookwatch_output_errors_total", "Documents an output route could not take.", func() float64 { return float64(pub.get().Errors.Load()) }),
		counter("hookwatch_output_truncated_total", "Documents shrunk to fit the message size.", func() float64 { return float64(pub.get().Truncated.Load()) }),
	}
}
