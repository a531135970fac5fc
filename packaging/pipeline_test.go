package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/allowlist"
	"github.com/hookwatch/hookwatch/sensor/container"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// pipeline is the part of a pySigma processing pipeline the published file
// uses; unknown keys fail the test, so a typo cannot hide.
type pipeline struct {
	Name            string `yaml:"name"`
	Priority        int    `yaml:"priority"`
	Transformations []struct {
		ID               string            `yaml:"id"`
		Type             string            `yaml:"type"`
		Key              string            `yaml:"key"`
		Val              string            `yaml:"val"`
		Message          string            `yaml:"message"`
		Regex            string            `yaml:"regex"`
		Replacement      string            `yaml:"replacement"`
		InterpretSpecial bool              `yaml:"interpret_special"`
		Mapping          map[string]string `yaml:"mapping"`
		Conditions       map[string]string `yaml:"conditions"`
		RuleConditions   []struct {
			Type     string `yaml:"type"`
			Product  string `yaml:"product"`
			Category string `yaml:"category"`
		} `yaml:"rule_conditions"`
		FieldNameConditions []struct {
			Type   string   `yaml:"type"`
			Fields []string `yaml:"fields"`
		} `yaml:"field_name_conditions"`
	} `yaml:"transformations"`
}

type rootOnly struct{}

func (rootOnly) User(uid uint32) (string, bool)  { return "root", uid == 0 }
func (rootOnly) Group(gid uint32) (string, bool) { return "root", gid == 0 }

// sample is one event as hookwatch writes it.
type sample struct {
	row    map[string]any // the Defender row of the event (telemetry)
	fields map[string]any // the fields the rules saw
	doc    *ecs.Doc       // the ECS document (telemetry), facts included
	alerts []*ecs.Doc     // the alerts the built-in rules raised on it
}

// samples builds one event of each category through the real engine and
// encoders.
func samples(t *testing.T) map[string]sample {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	sg, _, err := ruleset.Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	al, _, _ := allowlist.Load(rules.Allowlists(), nil)
	cache, _ := ldso.ReadCache("/etc/ld.so.cache")
	eng := detect.New(detect.Config{Rules: rs, Sigma: sg, Allow: al, Resolver: ldso.NewResolver(cache), Judge: judge.New(rs, pkgdb.New(), "/", 16), Names: rootOnly{}})
	enc := ecs.New(ecs.Host{Name: "h", ID: "id", Version: "test"}, rootOnly{}, rs, sg)
	def, err := format.NewDefender("id")
	if err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(t.TempDir(), "libhook.so")
	b, _ := os.ReadFile("/usr/libexec/coreutils/libstdbuf.so")
	os.WriteFile(hook, b, 0o755)
	now := time.Now()
	parent := &proctable.Process{PID: 1, Executable: "/usr/bin/bash", Args: []string{"-bash"}, Name: "bash"}
	p := &proctable.Process{PID: 42, PPID: 1, EntityID: "entity-42", Executable: "/usr/bin/ssh", Name: "ssh", Args: []string{"ssh", "host"}, Credential: true,
		LoaderEnv: []string{"LD_PRELOAD=" + hook, "LD_LIBRARY_PATH=/tmp"}, Start: now.Add(-time.Second)}
	out := map[string]sample{}
	add := func(cat string, doc *ecs.Doc, ev *detect.Event) {
		doc = enc.With(doc, enc.FactsOf(ev.Fields))
		row, err := def.Row(doc)
		if err != nil {
			t.Fatal(err)
		}
		s := sample{row: row, fields: ev.Fields, doc: doc}
		als, errs := eng.Evaluate(ev)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, al := range als {
			s.alerts = append(s.alerts, enc.Alert(nil, p, parent, al))
		}
		out[cat] = s
	}
	ex := &event.Exec{Proc: event.Proc{Time: now}}
	add(ruleset.ProcessCreation, enc.Exec(nil, p, parent, ex), eng.Exec(p, parent, ex))
	il := &event.ImageLoad{Proc: event.Proc{Time: now}, Path: hook}
	ev, j, _, _ := eng.ImageLoad(p, parent, il, 0, 0)
	add(ruleset.ImageLoad, enc.ImageLoad(nil, p, parent, il, j), ev)
	items := ldso.FromEnv([]string{"LD_PRELOAD=" + hook})
	c := &loaderconf.Change{Time: now, Path: "/etc/ld.so.preload", Kind: "preload", Type: "change", Exists: true, Items: items, Added: items,
		Writer: &event.FileOp{Proc: event.Proc{PID: 42, Comm: "sh"}}}
	add(ruleset.FileEvent, enc.FileChange(nil, c, p, parent, false), eng.LoaderConfig(c, p, parent))
	reader := &proctable.Process{PID: 77, PPID: 1, EntityID: "entity-77", Executable: "/tmp/reader", Name: "reader", Args: []string{"/tmp/reader"}, Start: now.Add(-time.Second),
		Container: container.Container{ID: strings.Repeat("ab", 32), Runtime: "docker", Image: "debian:bookworm"}}
	agent := &proctable.Process{PID: 50, PPID: 1, EntityID: "entity-50", Executable: "/usr/bin/ssh-agent", Name: "ssh-agent", Credential: true, Start: now}
	ac := &event.Access{Proc: event.Proc{Time: now, PID: 77}, Executable: reader.Executable, Op: event.AccessMemRead, Target: 50, TargetPID: 50, TargetWatch: event.WatchCredential}
	add(ruleset.ProcessAccess, enc.Access(nil, reader, parent, agent, ac, false), eng.Access(reader, parent, agent, ac, false))
	return out
}

func asString(v any) string {
	switch v := v.(type) {
	case []string:
		return strings.Join(v, " ")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// The published pipeline maps every field a shipped rule reads, for its
// category, to a column of the right table or to an AdditionalFields key,
// and the rows hookwatch really writes hold the fact there.
func TestSigmaPipelineForSentinel(t *testing.T) {
	b, err := os.ReadFile("../rules/pipelines/hookwatch_sentinel.yml")
	if err != nil {
		t.Fatal(err)
	}
	var pl pipeline
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&pl); err != nil {
		t.Fatal(err)
	}
	schemaB, _ := os.ReadFile("../sensor/format/testdata/mde-tables.json")
	var schema struct {
		Tables map[string][]struct{ Name string } `json:"tables"`
	}
	json.Unmarshal(schemaB, &schema)

	tables, mappings, unsupported := map[string]string{}, map[string]map[string]string{}, map[string]map[string]bool{}
	for _, tr := range pl.Transformations {
		cat := ""
		for _, rc := range tr.RuleConditions {
			if rc.Type == "logsource" && rc.Product == "linux" {
				cat = rc.Category
			}
		}
		switch tr.Type {
		case "set_state":
			if tr.Key == "query_table" {
				tables[cat] = tr.Val
			}
		case "field_name_mapping":
			mappings[cat] = tr.Mapping
		case "detection_item_failure":
			unsupported[cat] = map[string]bool{}
			for _, fc := range tr.FieldNameConditions {
				for _, f := range fc.Fields {
					unsupported[cat][f] = true
				}
			}
		}
	}
	sample := samples(t)
	sg, _, err := ruleset.Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A false fact no rule tests for false is left out of the row (absent
	// reads as false); those a rule tests are written.
	falseTested, reads := sg.FalseTested(), sg.Reads()
	for _, cat := range ruleset.Categories {
		table := strings.TrimPrefix(tables[cat], "Hookwatch")
		cols := map[string]bool{}
		for _, c := range schema.Tables[table] {
			cols[c.Name] = true
		}
		if len(cols) == 0 || mappings[cat] == nil {
			t.Errorf("%s: no table (%q) or no field mapping", cat, tables[cat])
			continue
		}
		s := sample[cat]
		var extra map[string]any
		json.Unmarshal([]byte(s.row["AdditionalFields"].(string)), &extra)
		for field, target := range mappings[cat] {
			want, has := s.fields[field]
			if key, ok := strings.CutPrefix(target, "AdditionalFields."); ok {
				if want == false && !falseTested[field] {
					want = nil
				}
				// Said another way (ecs.SaidElsewhere) and read by no
				// rule of the category: telemetry may leave it out.
				if extra[key] == nil && slices.Contains(ecs.SaidElsewhere, field) && !reads[cat][field] {
					continue
				}
				if has && asString(extra[key]) != asString(want) {
					t.Errorf("%s: %s maps to %s = %q, the event had %q", cat, field, target, asString(extra[key]), asString(want))
				}
				continue
			}
			if !cols[target] {
				t.Errorf("%s: %s maps to %s, not a column of %s", cat, field, target, table)
			} else if has && asString(s.row[target]) != asString(want) {
				t.Errorf("%s: %s maps to %s = %q, the event had %q", cat, field, target, asString(s.row[target]), asString(want))
			}
		}
		// Every fact the event carries is mapped.
		for field := range s.fields {
			if _, ok := mappings[cat][field]; !ok && !unsupported[cat][field] && field != "UserId" {
				t.Errorf("%s: the event's field %s is not in the pipeline", cat, field)
			}
		}
	}
	for _, r := range sg.Rules() {
		for _, f := range r.Fields() {
			cat := r.Logsource.Category
			if _, ok := mappings[cat][f]; !ok || unsupported[cat][f] {
				t.Errorf("rule %s reads %s, which the pipeline cannot convert for %s", r.Name, f, cat)
			}
		}
	}
}
