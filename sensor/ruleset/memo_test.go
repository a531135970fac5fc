package ruleset

import (
	"maps"
	"testing"

	"github.com/hookwatch/hookwatch/rules"
)

// A remembered verdict is the verdict: every built-in rule against every
// sample event of every rule (matching or not, and each with one field
// changed or removed), asked twice, says what sigma-go says.
func TestRememberedVerdictsAreSigmas(t *testing.T) {
	s, _, err := Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var events []map[string]any
	for _, r := range s.Rules() {
		for _, ev := range append(append([]map[string]any{}, r.Tests.Match...), r.Tests.NoMatch...) {
			events = append(events, ev)
			for k, v := range ev {
				gone := maps.Clone(ev)
				delete(gone, k)
				changed := maps.Clone(ev)
				switch v := v.(type) {
				case string:
					changed[k] = v + "x"
				case []string:
					changed[k] = append(append([]string{}, v...), "x")
				case bool:
					changed[k] = !v
				default:
					changed[k] = "other"
				}
				events = append(events, gone, changed)
			}
		}
	}
	asked, hits := 0, 0
	for _, r := range s.Rules() {
		for _, ev := range events {
			want, werr := r.evaluate(ev)
			for range 2 {
				got, err := r.Match(ev)
				if got != want || (err == nil) != (werr == nil) {
					t.Fatalf("%s on %v: remembered %v (%v), sigma-go says %v (%v)", r.Name, ev, got, err, want, werr)
				}
				asked++
			}
		}
		hits += len(r.memo.seen)
	}
	if hits == 0 {
		t.Fatalf("%d questions, no verdict remembered", asked)
	}
	t.Logf("%d questions over %d events; %d verdicts remembered", asked, len(events), hits)
}

// Keys tell apart what a plain join would confuse.
func TestMemoKeysAreDistinct(t *testing.T) {
	m := newMemo([]string{"A", "B"})
	seen := map[string]map[string]any{}
	for _, ev := range []map[string]any{
		{"A": "x", "B": "y"}, {"A": "xy"}, {"A": "x", "B": []string{"y"}}, {"A": []string{"x", "y"}},
		{"A": []string{"xy"}}, {"A": true}, {"A": "true"}, {"A": 1}, {"A": "1"}, {}, {"B": "x"}, {"A": "", "B": ""},
	} {
		k, ok := m.key(nil, ev)
		if !ok {
			t.Fatalf("no key for %v", ev)
		}
		if other, dup := seen[string(k)]; dup {
			t.Errorf("%v and %v share the key %q", ev, other, k)
		}
		seen[string(k)] = ev
	}
	if _, ok := m.key(nil, map[string]any{"A": 1.5}); ok {
		t.Error("a float got a key (its verdict would be remembered by a type the key does not know)")
	}
}
