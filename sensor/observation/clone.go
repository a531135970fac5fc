package observation

import (
	"reflect"
	"slices"
)

// Clone is a deep copy: changing it (a follow-up's new id, a shortened
// value) leaves o as it was for the other outputs.
func (o *Observation) Clone() *Observation {
	c := *o
	c.Container = clonePtr(o.Container, func(x *Container) { x.Image = clonePtr(x.Image, nil) })
	c.Dll = clonePtr(o.Dll, func(x *Dll) { x.Hash = clonePtr(x.Hash, nil) })
	c.Event.Category, c.Event.Type = slices.Clone(o.Event.Category), slices.Clone(o.Event.Type)
	c.Event.RiskScore, c.Event.Severity = clonePtr(o.Event.RiskScore, nil), clonePtr(o.Event.Severity, nil)
	c.File = clonePtr(o.File, func(x *File) { x.Hash, x.Size = clonePtr(x.Hash, nil), clonePtr(x.Size, nil) })
	c.Labels = slices.Clone(o.Labels)
	c.Package = clonePtr(o.Package, nil)
	c.Process = cloneProcess(o.Process)
	c.Rule = clonePtr(o.Rule, nil)
	c.Threat = clonePtr(o.Threat, func(x *Threat) {
		x.Tactic = cloneNamed(x.Tactic)
		x.Technique = clonePtr(x.Technique, func(t *Technique) {
			t.ID, t.Name, t.Subtechnique = slices.Clone(t.ID), slices.Clone(t.Name), cloneNamed(t.Subtechnique)
		})
	})
	return &c
}

func cloneProcess(p *Process) *Process {
	return clonePtr(p, func(x *Process) {
		x.Args, x.EnvVars = slices.Clone(x.Args), slices.Clone(x.EnvVars)
		x.Group, x.User = clonePtr(x.Group, nil), clonePtr(x.User, nil)
		x.RealGroup, x.RealUser = clonePtr(x.RealGroup, nil), clonePtr(x.RealUser, nil)
		x.Parent = cloneProcess(x.Parent)
	})
}

func cloneNamed(n *Named) *Named {
	return clonePtr(n, func(x *Named) { x.ID, x.Name = slices.Clone(x.ID), slices.Clone(x.Name) })
}

// clonePtr copies *p (nil stays nil), then lets deep copy what it holds.
func clonePtr[T any](p *T, deep func(*T)) *T {
	if p == nil {
		return nil
	}
	c := *p
	if deep != nil {
		deep(&c)
	}
	return &c
}

// Strings are the string values of o that reach an encoding, each with a
// setter: what shortening a document that does not fit a message works on
// (on a Clone). Keys and numbers are never among them.
func (o *Observation) Strings() []StringValue {
	var out []StringValue
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			t := v.Type()
			for i := range v.NumField() {
				if t.Field(i).Tag.Get("json") != "-" {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.String:
			f := v
			out = append(out, StringValue{Value: f.String(), Set: func(s string) { f.SetString(s) }})
		case reflect.Map:
			m := v
			for _, k := range m.MapKeys() {
				k := k
				out = append(out, StringValue{Value: m.MapIndex(k).String(), Set: func(s string) { m.SetMapIndex(k, reflect.ValueOf(s)) }})
			}
		}
	}
	walk(reflect.ValueOf(o))
	return out
}

// StringValue is one string in an observation and how to change it.
type StringValue struct {
	Value string
	Set   func(string)
}
