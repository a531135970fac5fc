package ecs

// Alerts: a rule's verdict on an event, lean (each byte is a ticket's).

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// Alert encodes a detection: the event a rule matched, with the rule's
// metadata (rule.*, event.severity from its level, threat.* from its
// attack.* tags) and the event's evidence.
func (e *Encoder) Alert(p, parent *proctable.Process, a *detect.Alert) Doc {
	var category, typ []string
	switch a.Category {
	case ruleset.ImageLoad:
		category, typ = []string{"intrusion_detection", "library"}, []string{"info", "start"}
	case ruleset.FileEvent:
		category, typ = []string{"intrusion_detection", "file", "configuration"}, []string{"info", "change"}
	case ruleset.ProcessAccess:
		category, typ = []string{"intrusion_detection", "process"}, []string{"info", "access"}
	default:
		category, typ = []string{"intrusion_detection", "process"}, []string{"info", "start"}
	}
	r := a.Rule
	d := e.base(a.Time, "alert", "hookwatch.alert", r.Name, category, typ)
	ev := d["event"].(Doc)
	ev["severity"] = severityNumber(r.Level)
	ev["risk_score"] = float64(a.Score)
	ev["reason"] = clean(strings.Join(a.Reasons, "; "))
	if p != nil {
		e.subject(d, p, parent)
	}
	if a.Category == ruleset.FileEvent {
		d["file"] = Doc{"path": clean(a.Target), "name": clean(filepath.Base(a.Target)), "directory": clean(filepath.Dir(a.Target)), "type": "file"}
	}
	set := "hookwatch"
	if !r.Builtin {
		set = "local"
	}
	// The rule by id, title and first reference: its description and
	// author are in the rule file (docs/rules.md lists the built-in ones),
	// not repeated in every alert.
	rd := Doc{"id": r.ID, "name": clean(r.Title), "ruleset": set, "category": a.Category}
	if len(r.References) > 0 {
		rd["reference"] = clean(r.References[0])
	}
	d["rule"] = rd
	if t := e.threat(r.Techniques(), r.Tactics()); t != nil {
		d["threat"] = t
	}
	if len(a.Libraries) > 0 {
		// The first library with a judgement is the one the alert shows
		// in dll.* and file.*; labels.library names them all.
		lib := a.Libraries[0]
		for _, l := range a.Libraries {
			if l.Judgement != nil && l.Judgement.Exists {
				lib = l
				break
			}
		}
		d["dll"] = dll(lib.Path)
		if lib.Ino != 0 && d["file"] == nil {
			d["file"] = fileDoc(lib.Path, lib.Dev, lib.Ino, lib.Size, 0)
		}
		e.judgement(d, lib.Judgement, lib.Overrides)
	}
	// The facts (labels, from the event's fields) name the target and the
	// libraries; the rule's name is event.action, the reasons event.reason.
	labels, _ := d["labels"].(Doc)
	if labels == nil {
		labels = Doc{}
	}
	labels["severity_level"] = r.Level
	if r.File != "" && !r.Builtin {
		labels["rule_file"] = clean(r.File)
	}
	d["labels"] = labels
	d["message"] = clean(fmt.Sprintf("%s [%s, score %d]: %s", r.Title, r.Level, a.Score, filepath.Base(a.Target)))
	d = e.Facts(d, a.Fields)
	alertFacts(d["labels"].(Doc))
	leanAlert(d)
	return d
}

// threat maps a rule's ATT&CK tags onto threat.*: each technique named
// from the rules' technique table (its parent and tactics with it), and
// tactics the tags name that no technique brings.
func (e *Encoder) threat(ids, tacticTags []string) Doc {
	if len(ids) == 0 && len(tacticTags) == 0 {
		return nil
	}
	var tacticID, tacticName, techID, techName, subID, subName []string
	seenTactic := map[string]bool{}
	addTactic := func(ta rules.Ref) {
		if !seenTactic[ta.ID] {
			seenTactic[ta.ID] = true
			tacticID, tacticName = append(tacticID, ta.ID), append(tacticName, ta.Name)
		}
	}
	for _, id := range ids {
		t := e.rules.Techniques[id]
		if t == nil {
			// A technique hookwatch has no name for (a user's rule):
			// the id is still right.
			main, _, isSub := strings.Cut(id, ".")
			if isSub {
				techID, techName = append(techID, main), append(techName, "")
				subID, subName = append(subID, id), append(subName, "")
			} else {
				techID, techName = append(techID, id), append(techName, "")
			}
			continue
		}
		if t.Parent != nil {
			techID, techName = append(techID, t.Parent.ID), append(techName, t.Parent.Name)
			subID, subName = append(subID, id), append(subName, t.Name)
		} else {
			techID, techName = append(techID, id), append(techName, t.Name)
		}
		for _, ta := range t.Tactics {
			addTactic(ta)
		}
	}
	for _, name := range tacticTags {
		if ta, ok := e.rules.Tactics[name]; ok {
			addTactic(rules.Ref{ID: ta.ID, Name: ta.Name, Reference: ta.Reference})
		}
	}
	// Ids and names only: each reference is the id's ATT&CK page, and
	// three arrays of URLs were a fifth of an alert's bytes.
	d := Doc{"framework": "MITRE ATT&CK"}
	if len(tacticID) > 0 {
		d["tactic"] = Doc{"id": tacticID, "name": tacticName}
	}
	if len(techID) > 0 {
		tech := Doc{"id": techID, "name": techName}
		if len(subID) > 0 {
			tech["subtechnique"] = Doc{"id": subID, "name": subName}
		}
		d["technique"] = tech
	}
	return d
}

func (e *Encoder) truncationLabels(d Doc, args, env, path bool) {
	l := Doc{}
	if args {
		l["args_truncated"] = "true"
	}
	if env {
		l["env_truncated"] = "true"
	}
	if path {
		l["path_truncated"] = "true"
	}
	if len(l) > 0 {
		d["labels"] = l
	}
}

// leanAlert leaves out of an alert what identifies rather than informs,
// and what the telemetry of the same process already holds: an alert is a
// ticket and every byte of it is billed. SHA-256 names the file (SHA-1 is
// in the library's telemetry), tactics by id, the rule by id and title, the
// host without its kernel, users and files by name, techniques by the
// sub-technique's name.
func leanAlert(d Doc) {
	if dl, ok := d["dll"].(Doc); ok {
		if h, ok := dl["hash"].(Doc); ok {
			delete(h, "sha1")
		}
	}
	if f, ok := d["file"].(Doc); ok {
		if _, named := f["owner"]; named {
			delete(f, "uid")
		}
		if _, named := f["group"]; named {
			delete(f, "gid")
		}
	}
	if h, ok := d["host"].(Doc); ok {
		if o, ok := h["os"].(Doc); ok {
			delete(o, "kernel")
		}
	}
	if t, ok := d["threat"].(Doc); ok {
		if ta, ok := t["tactic"].(Doc); ok {
			delete(ta, "name")
		}
		if te, ok := t["technique"].(Doc); ok && te["subtechnique"] != nil {
			delete(te, "name") // the sub-technique's name says it
		}
	}
	if r, ok := d["rule"].(Doc); ok {
		delete(r, "reference")
	}
	if p, ok := d["process"].(Doc); ok {
		delete(p, "group")
		if pp, ok := p["parent"].(Doc); ok {
			delete(pp, "user")
			if pp["entity_id"] == "" {
				delete(pp, "entity_id")
			}
		}
		// process.env_vars is the loader variables and what they name,
		// as written: the same facts as loader_variable and loader_item
		// (kept when the loader's own flags named items too).
		if _, ok := p["env_vars"]; ok {
			if labels, ok := d["labels"].(Doc); ok && labels["loader_flag"] == nil {
				delete(labels, "loader_variable")
				delete(labels, "loader_item")
			}
		}
	}
	if o, ok := d["observer"].(Doc); ok {
		delete(o, "product")
	}
}

// alertFacts leaves out of an alert the facts that are false: the rule
// that fired decided on them, and an absent fact reads as false.
func alertFacts(labels Doc) {
	for k, v := range labels {
		if v == "false" {
			delete(labels, k)
		}
	}
}

// severityNumber maps levels onto the numbers Elastic's detection rules use.
func severityNumber(level string) int64 {
	switch level {
	case "informational":
		return 0
	case "critical":
		return 99
	case "high":
		return 73
	case "medium":
		return 47
	}
	return 21
}
