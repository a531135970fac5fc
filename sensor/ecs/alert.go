package ecs

// Alerts: a rule's verdict on an event, lean (each byte is a ticket's).

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// Alert encodes a detection: the event a rule matched, with the rule's
// metadata (rule.*, event.severity from its level, threat.* from its
// attack.* tags) and the event's evidence.
//
// sh is what the event's documents share (its facts, its process).
func (e *Encoder) Alert(sh *Shared, p, parent *proctable.Process, a *detect.Alert) *Doc {
	var category, typ []string
	switch a.Category {
	case ruleset.ImageLoad:
		category, typ = kinds.alertLibrary, kinds.infoStart
	case ruleset.FileEvent:
		category, typ = kinds.alertFile, kinds.infoChange
	case ruleset.ProcessAccess:
		category, typ = kinds.alertProcess, kinds.infoAccess
	default:
		category, typ = kinds.alertProcess, kinds.infoStart
	}
	r := a.Rule
	d := e.base(a.Time, observation.KindAlert, observation.DatasetAlert, r.Name, category, typ)
	d.Labels = make(observation.Labels, 0, 8) // its own few, before the facts join them
	facts := e.FactsFor(sh, a.Fields)
	d.Level, _ = observation.ParseLevel(r.Level)
	d.Event.Severity = observation.Int64(d.Level.ECS())
	d.Event.RiskScore = observation.Float64(float64(a.Score))
	d.Event.Reason = clean(strings.Join(a.Reasons, "; "))
	if p != nil {
		e.subject(d, sh, p, parent)
	}
	if a.Category == ruleset.FileEvent {
		d.File = &observation.File{Path: clean(a.Target), Name: clean(filepath.Base(a.Target)), Directory: clean(filepath.Dir(a.Target)), Type: "file"}
	}
	set := "hookwatch"
	if !r.Builtin {
		set = "local"
	}
	// The rule by id, title and category: its description, author and
	// references are in the rule file (docs/rules.md lists the built-in
	// ones), not repeated in every alert.
	d.Rule = &observation.Rule{ID: r.ID, Name: clean(r.Title), Ruleset: set, Category: a.Category}
	d.Threat = e.threatOf(r)
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
		d.Dll = &observation.Dll{Path: clean(lib.Path)}
		if lib.Ino != 0 && d.File == nil {
			d.File = fileDoc(lib.Path, lib.Dev, lib.Ino, lib.Size, 0)
		}
		e.judgement(d, lib.Judgement)
	}
	// The facts (labels, from the event's fields) name the target and the
	// libraries; the rule's name is event.action, the reasons event.reason.
	label(d, "severity_level", r.Level)
	if r.File != "" && !r.Builtin {
		label(d, "rule_file", clean(r.File))
	}
	d.Message = clean(fmt.Sprintf("%s [%s, score %d]: %s", r.Title, r.Level, a.Score, filepath.Base(a.Target)))
	e.With(d, facts)
	d.Labels = slices.DeleteFunc(d.Labels, falseFact)
	leanAlert(d, sh)
	return d
}

// threatOf is a rule's threat.*, built once per rule (an encoder lives as
// long as its rules; documents share it and nothing changes it).
func (e *Encoder) threatOf(r *ruleset.Rule) *observation.Threat {
	if t, ok := e.threats.Load(r); ok {
		return t.(*observation.Threat)
	}
	t := e.threat(r.Techniques(), r.Tactics())
	e.threats.Store(r, t)
	return t
}

// threat maps a rule's ATT&CK tags onto threat.*: each technique named
// from the rules' technique table (its parent and tactics with it), and
// tactics the tags name that no technique brings.
func (e *Encoder) threat(ids, tacticTags []string) *observation.Threat {
	if len(ids) == 0 && len(tacticTags) == 0 {
		return nil
	}
	var tacticID, techID, techName, subID, subName []string
	seenTactic := map[string]bool{}
	addTactic := func(id string) {
		if !seenTactic[id] {
			seenTactic[id] = true
			tacticID = append(tacticID, id)
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
			addTactic(ta.ID)
		}
	}
	for _, name := range tacticTags {
		if ta, ok := e.rules.Tactics[name]; ok {
			addTactic(ta.ID)
		}
	}
	// Ids, and names where the id alone is not read at a glance: tactics
	// by id, a technique by its sub-technique's name when it has one. Each
	// reference is the id's ATT&CK page, and three arrays of URLs were a
	// fifth of an alert's bytes. An alert is a ticket and every byte of it
	// is billed.
	d := &observation.Threat{Framework: "MITRE ATT&CK"}
	if len(tacticID) > 0 {
		d.Tactic = &observation.Named{ID: tacticID}
	}
	if len(techID) > 0 {
		d.Technique = &observation.Technique{ID: techID, Name: techName}
		if len(subID) > 0 {
			d.Technique.Name = nil // the sub-technique's name says it
			d.Technique.Subtechnique = &observation.Named{ID: subID, Name: subName}
		}
	}
	return d
}

// leanAlert leaves out of an alert what identifies rather than informs,
// and what the telemetry of the same process already holds: SHA-256 names
// the file (SHA-1 is in the library's telemetry), the host without its
// kernel, users and files by name, the process without its group or its
// parent's user, the sensor without its product.
func leanAlert(d *Doc, sh *Shared) {
	if d.Dll != nil && d.Dll.Hash != nil {
		d.Dll.Hash.SHA1 = ""
	}
	if f := d.File; f != nil {
		if f.Owner != "" {
			f.UID = ""
		}
		if f.Group != "" {
			f.GID = ""
		}
	}
	d.Host.OS.Kernel = ""
	d.Observer.Product = ""
	if d.Process != nil {
		d.Process = sh.lean(d.Process)
		p := d.Process
		// process.env_vars is the loader variables and what they name,
		// as written: the same facts as loader_variable and loader_item
		// (kept when the loader's own flags named items too).
		if len(p.EnvVars) > 0 && d.Labels.Get("loader_flag") == "" {
			d.Labels.Delete("loader_variable")
			d.Labels.Delete("loader_item")
		}
	}
}

// falseFact is what an alert leaves out: a fact that is false. The rule
// that fired decided on it, and an absent fact reads as false.
func falseFact(l observation.Label) bool { return l.Value == "false" }
