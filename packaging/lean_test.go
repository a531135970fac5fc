package packaging

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hookwatch/hookwatch/sensor/ecs"
)

// twoFacts are leaf pairs that may hold the same value because they are
// different facts that coincide here: the program a hook targets is the
// process itself unless the loader was told to run another; a command line
// with an argument holding a space carries the arguments too; a library
// named by its full path resolves to itself; a new preload file names what
// was added to it.
var twoFacts = [][2]string{
	{"labels.target_image", "process.executable"},
	{"process.args", "process.command_line"},
	{"labels.library", "labels.loader_item"}, // as resolved, as written
	{"labels.added", "labels.names"},         // what a change added, what the file names now
}

// Every byte is billed in the SIEM: across a sample of every event kind,
// built by the real engine and encoders, no value appears under two keys
// of a document (each fact once), and every alert stays under 2 KB.
func TestDocumentsCarryEachFactOnce(t *testing.T) {
	var alertSizes []int
	for cat, s := range samples(t) {
		docs := toMaps(t, append([]*ecs.Doc{s.doc}, s.alerts...))
		if len(s.alerts) == 0 {
			t.Errorf("%s: the sample raised no alert to measure", cat)
		}
		for i, d := range docs {
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s %s", cat, d["event"].(map[string]any)["action"])
			if i > 0 {
				alertSizes = append(alertSizes, len(b))
				if len(b) >= 2048 {
					t.Errorf("%s: alert of %d bytes, over the 2 KB budget:\n%s", name, len(b), b)
				}
			}
			flat := map[string]string{}
			flatten("", d, flat)
			byValue := map[string][]string{}
			for k, v := range flat {
				// Short values (true, root, 0, a level) coincide by
				// nature; paths, hashes, ids and lists do not.
				if len(v) >= 12 {
					byValue[v] = append(byValue[v], k)
				}
			}
			for v, keys := range byValue {
				sort.Strings(keys)
				if len(keys) > 1 && !slices.ContainsFunc(twoFacts, func(p [2]string) bool { return len(keys) == 2 && keys[0] == p[0] && keys[1] == p[1] }) {
					t.Errorf("%s: %q under %s", name, v, strings.Join(keys, ", "))
				}
			}
		}
	}
	sort.Ints(alertSizes)
	t.Logf("alert sizes (bytes): %v", alertSizes)
	if m := alertSizes[len(alertSizes)/2]; m >= 2048 {
		t.Errorf("median alert %d bytes, want under 2048", m)
	}
}

// toMaps reads documents as the SIEM does: from their JSON.
func toMaps(t *testing.T, ds []*ecs.Doc) []map[string]any {
	var out []map[string]any
	for _, d := range ds {
		b, err := ecs.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// flatten writes a document's leaves as dotted keys; lists are one value.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, vv, out)
		}
	case []string:
		out[prefix] = strings.Join(x, " ")
	case []any:
		out[prefix] = fmt.Sprint(x...)
	default:
		out[prefix] = fmt.Sprint(x)
	}
}
