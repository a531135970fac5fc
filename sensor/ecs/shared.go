package ecs

import (
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// Shared is what the documents of one event have in common, made for the
// first of them and reused by the others: the facts (the labels of the
// event's fields) and the process with its parent and container. An exec
// of a hooked credential program makes its telemetry and up to three
// alerts, and its parent's command line (kilobytes, for a script or a
// Java service) was encoded again for each. The zero value is ready to
// use; a nil one shares nothing. Documents never change what they share
// (leanAlert copies before it leaves fields out).
type Shared struct {
	facts     Facts
	factsMade bool

	// The process document, for the process and parent it was made of.
	of, parent *proctable.Process
	process    *observation.Process
	container  *observation.Container
	// The alerts' copy of a process document, and the document it is of.
	leanOf, leanProcess *observation.Process
}

// FactsFor returns the event's facts: FactsOf its fields, made once per
// event.
func (e *Encoder) FactsFor(sh *Shared, fields map[string]any) Facts {
	if sh == nil {
		return e.FactsOf(fields)
	}
	if !sh.factsMade {
		sh.facts, sh.factsMade = e.FactsOf(fields), true
	}
	return sh.facts
}

// subject sets the process a document is about, its parent and container:
// from sh when it was made for the same two, else made and kept there.
func (e *Encoder) subject(d *Doc, sh *Shared, p, parent *proctable.Process) {
	if sh != nil && sh.process != nil && sh.of == p && sh.parent == parent {
		d.Process, d.Container = sh.process, sh.container
		return
	}
	d.Process = e.process(p, parent)
	if c := p.Container; c.ID != "" {
		d.Container = &observation.Container{ID: c.ID, Runtime: c.Runtime}
		if c.Image != "" {
			d.Container.Image = &observation.Image{Name: clean(c.Image)}
		}
	}
	if sh != nil {
		sh.of, sh.parent, sh.process, sh.container = p, parent, d.Process, d.Container
	}
}

// lean is the alerts' copy of a process document: without the group and
// the parent's user, which the event's telemetry holds. The telemetry
// shares p, so p is copied, once per event.
func (sh *Shared) lean(p *observation.Process) *observation.Process {
	if sh != nil && sh.leanOf == p {
		return sh.leanProcess
	}
	c := *p
	c.Group = nil
	if p.Parent != nil {
		parent := *p.Parent
		parent.User = nil
		c.Parent = &parent
	}
	if sh != nil {
		sh.leanOf, sh.leanProcess = p, &c
	}
	return &c
}
