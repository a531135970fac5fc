package observation

import (
	"encoding/json"
	"slices"
	"strings"
)

// Label is one fact ECS has no field for.
type Label struct{ Key, Value string }

// Labels hold each key once, in key order. A document has a dozen or two:
// as a sorted slice they cost a fraction of a map's bytes (the agent made
// one per document, several per event), and are written in order without
// sorting.
type Labels []Label

func (l Labels) find(k string) (int, bool) {
	return slices.BinarySearchFunc(l, k, func(x Label, k string) int { return strings.Compare(x.Key, k) })
}

// Get returns k's value, "" when there is none.
func (l Labels) Get(k string) string {
	if i, ok := l.find(k); ok {
		return l[i].Value
	}
	return ""
}

// Set sets k to v, in its place.
func (l *Labels) Set(k, v string) {
	i, ok := l.find(k)
	if ok {
		(*l)[i].Value = v
		return
	}
	*l = slices.Insert(*l, i, Label{k, v})
}

// Delete removes k.
func (l *Labels) Delete(k string) {
	if i, ok := l.find(k); ok {
		*l = slices.Delete(*l, i, i+1)
	}
}

// Merge returns new labels with l's and o's, o's value where both have a
// key. Neither l nor o is changed.
func (l Labels) Merge(o Labels) Labels {
	out := make(Labels, 0, len(l)+len(o)+2) // room for a label or two more
	i, j := 0, 0
	for i < len(l) && j < len(o) {
		switch c := strings.Compare(l[i].Key, o[j].Key); {
		case c < 0:
			out = append(out, l[i])
			i++
		case c > 0:
			out = append(out, o[j])
			j++
		default:
			out = append(out, o[j])
			i, j = i+1, j+1
		}
	}
	out = append(out, l[i:]...)
	return append(out, o[j:]...)
}

// Map is the labels as a map (tests, and readers that want one).
func (l Labels) Map() map[string]string {
	m := make(map[string]string, len(l))
	for _, x := range l {
		m[x.Key] = x.Value
	}
	return m
}

// MarshalJSON writes the labels as the object ECS has.
func (l Labels) MarshalJSON() ([]byte, error) { return json.Marshal(l.Map()) }

// LabelsOf makes labels of a map.
func LabelsOf(m map[string]string) Labels {
	l := make(Labels, 0, len(m))
	for k, v := range m {
		l = append(l, Label{k, v})
	}
	slices.SortFunc(l, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
	return l
}
