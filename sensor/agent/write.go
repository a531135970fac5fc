package agent

// Writing: the rules' verdicts, alerts (folded when they repeat) and documents.

import (
	"strconv"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/fold"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// evaluate runs the rules over an event; a rule that cannot be evaluated
// is counted and logged, and the others still decide.
func (a *Agent) evaluate(ev *detect.Event) []*detect.Alert {
	alerts, errs := a.engine.Evaluate(ev)
	for _, err := range errs {
		// A rule that fails on one event likely fails on all: warn once
		// per message, count every time.
		a.stats.RuleErrors.Add(1)
		if a.ruleErrSeen == nil {
			a.ruleErrSeen = map[string]bool{}
		}
		if msg := err.Error(); !a.ruleErrSeen[msg] && len(a.ruleErrSeen) < 256 {
			a.ruleErrSeen[msg] = true
			a.log.WithError(err).Warn("rule not evaluated (further failures counted in hookwatch_rule_errors_total)")
		}
	}
	return alerts
}

// writeAlert writes an alert on an event whose documents share sh.
func (a *Agent) writeAlert(sh *ecs.Shared, p, parent *proctable.Process, al *detect.Alert) {
	a.stats.Alerts.Add(1)
	a.alertsMu.Lock()
	if a.alerts == nil {
		a.alerts = map[string]*RuleCount{}
	}
	r := a.alerts[al.Rule.ID]
	if r == nil {
		r = &RuleCount{ID: al.Rule.ID, Name: al.Rule.Title}
		a.alerts[al.Rule.ID] = r
	}
	r.Count++
	a.alertsMu.Unlock()
	doc := a.enc.Alert(sh, p, parent, al)
	if a.cfg.Fold == nil {
		a.write(doc)
		return
	}
	fa := fold.Alert{Rule: al.Rule.ID, Target: al.Target, Time: al.Time, Doc: doc}
	if p != nil {
		fa.PID, fa.User = p.PID, strconv.FormatUint(uint64(p.EUID), 10)
	}
	for _, l := range al.Libraries {
		if l.Judgement != nil && l.Judgement.SHA256 != "" {
			fa.Library = l.Judgement.SHA256
			break
		}
		if fa.Library == "" {
			fa.Library = l.Path
		}
	}
	write, closed := a.cfg.Fold.Admit(fa)
	a.writeFollowUps(closed)
	if !write {
		a.stats.Folded.Add(1)
		return
	}
	a.write(doc)
}

// writeFollowUps writes the documents that close fold windows.
func (a *Agent) writeFollowUps(fs []fold.FollowUp) {
	for _, f := range fs {
		if first, ok := f.First.(*ecs.Doc); ok {
			a.write(a.enc.FollowUp(first, f.Count, f.Start, f.End, f.SamplePIDs))
		}
	}
}

func (a *Agent) write(d *ecs.Doc) {
	if err := a.out.Publish(d); err != nil {
		a.stats.WriteErrors.Add(1)
		a.log.WithError(err).Warn("event not written")
		return
	}
	a.stats.Written.Add(1)
}

// flush writes what the outputs keep, counting what they could not write.
func (a *Agent) flush() {
	if lost, err := a.out.Flush(); err != nil {
		a.stats.WriteErrors.Add(uint64(lost))
		a.stats.Written.Add(-uint64(lost)) // counted as written when kept
		a.log.WithError(err).Warn("events not written")
	}
}
