package observation

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Each output's number for each level, in one table (the ECS numbers are
// Elastic's detection rules', syslog's are RFC 5424's, CEF's 0 to 10).
func TestLevelNumbers(t *testing.T) {
	for _, c := range []struct {
		name        string
		ecs         int64
		syslog, cef int
	}{
		{"informational", 0, 6, 1}, {"low", 21, 5, 3}, {"medium", 47, 4, 5}, {"high", 73, 3, 8}, {"critical", 99, 2, 10},
	} {
		l, ok := ParseLevel(c.name)
		if !ok || l.String() != c.name || l.ECS() != c.ecs || l.Syslog() != c.syslog || l.CEF() != c.cef {
			t.Errorf("%s: parsed %v %v, numbers %d %d %d", c.name, l, ok, l.ECS(), l.Syslog(), l.CEF())
		}
	}
	if l, ok := ParseLevel("severe"); ok || l != LevelNone || l.Syslog() != 6 {
		t.Errorf("an unknown level parsed as %v", l)
	}
}

// A clone shares nothing a change could reach: every string of the clone
// changed leaves the original's as they were.
func TestCloneIsDeep(t *testing.T) {
	o := &Observation{
		Event:     Event{Category: []string{"c"}, Type: []string{"t"}, RiskScore: Float64(1)},
		Process:   &Process{Args: []string{"a"}, User: &ID{ID: "0"}, Parent: &Process{Executable: "/p", User: &ID{ID: "1"}}},
		Dll:       &Dll{Path: "/l", Hash: &Hash{SHA256: "h"}},
		File:      &File{Path: "/f", Hash: &Hash{SHA256: "h"}, Size: Int64(3)},
		Labels:    LabelsOf(map[string]string{"k": "v"}),
		Threat:    &Threat{Tactic: &Named{ID: []string{"TA1"}}, Technique: &Technique{ID: []string{"T1"}, Subtechnique: &Named{ID: []string{"T1.1"}}}},
		Container: &Container{ID: "c", Image: &Image{Name: "i"}},
	}
	before := o.Clone()
	c := o.Clone()
	n := 0
	for _, s := range c.Strings() {
		s.Set(strings.Repeat("x", len(s.Value)+1))
		n++
	}
	if n < 15 {
		t.Errorf("only %d strings found", n)
	}
	if !reflect.DeepEqual(o, before) {
		t.Errorf("changing the clone changed the original")
	}
}

// Labels stay in key order, each key once, whatever order they are set in.
func TestLabelsInKeyOrder(t *testing.T) {
	var l Labels
	for _, k := range []string{"m", "a", "z", "b", "m", "a"} {
		l.Set(k, k+"1")
	}
	l.Set("z", "last")
	l.Delete("b")
	l.Delete("absent")
	want := Labels{{"a", "a1"}, {"m", "m1"}, {"z", "last"}}
	if !reflect.DeepEqual(l, want) || l.Get("z") != "last" || l.Get("b") != "" {
		t.Errorf("labels %v, want %v", l, want)
	}
	if b, _ := json.Marshal(l); string(b) != `{"a":"a1","m":"m1","z":"last"}` {
		t.Errorf("as JSON: %s", b)
	}
}

func TestLabelsMerge(t *testing.T) {
	a := Labels{{"a", "1"}, {"c", "3"}, {"e", "5"}}
	b := Labels{{"b", "2"}, {"c", "x"}, {"f", "6"}}
	got := a.Merge(b)
	want := Labels{{"a", "1"}, {"b", "2"}, {"c", "x"}, {"e", "5"}, {"f", "6"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
	if a[1].Value != "3" || b[1].Value != "x" || len(a) != 3 || len(b) != 3 {
		t.Errorf("merging changed its inputs: %v %v", a, b)
	}
	if got := Labels(nil).Merge(b); !reflect.DeepEqual(got, b) {
		t.Errorf("into none: %v", got)
	}
}
