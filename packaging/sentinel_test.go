package packaging

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

type analyticRule struct {
	ID                     string `yaml:"id"`
	Name                   string `yaml:"name"`
	Description            string `yaml:"description"`
	Severity               string `yaml:"severity"`
	RequiredDataConnectors []struct {
		ConnectorID string   `yaml:"connectorId"`
		DataTypes   []string `yaml:"dataTypes"`
	} `yaml:"requiredDataConnectors"`
	QueryFrequency     string   `yaml:"queryFrequency"`
	QueryPeriod        string   `yaml:"queryPeriod"`
	TriggerOperator    string   `yaml:"triggerOperator"`
	TriggerThreshold   *int     `yaml:"triggerThreshold"`
	Tactics            []string `yaml:"tactics"`
	RelevantTechniques []string `yaml:"relevantTechniques"`
	Query              string   `yaml:"query"`
	EntityMappings     []struct {
		EntityType    string `yaml:"entityType"`
		FieldMappings []struct {
			Identifier string `yaml:"identifier"`
			ColumnName string `yaml:"columnName"`
		} `yaml:"fieldMappings"`
	} `yaml:"entityMappings"`
	AlertDetailsOverride struct {
		AlertDisplayNameFormat  string `yaml:"alertDisplayNameFormat"`
		AlertDescriptionFormat  string `yaml:"alertDescriptionFormat"`
		AlertSeverityColumnName string `yaml:"alertSeverityColumnName"`
	} `yaml:"alertDetailsOverride"`
	CustomDetails map[string]string `yaml:"customDetails"`
	Version       string            `yaml:"version"`
	Kind          string            `yaml:"kind"`
}

// columns is every result column a rule's settings name: entities, custom
// details, the severity column and the alert format's placeholders.
func (r analyticRule) columns() []string {
	var out []string
	for _, e := range r.EntityMappings {
		for _, fm := range e.FieldMappings {
			out = append(out, fm.ColumnName)
		}
	}
	for _, c := range r.CustomDetails {
		out = append(out, c)
	}
	if c := r.AlertDetailsOverride.AlertSeverityColumnName; c != "" {
		out = append(out, c)
	}
	for _, m := range placeholder.FindAllStringSubmatch(r.AlertDetailsOverride.AlertDisplayNameFormat+r.AlertDetailsOverride.AlertDescriptionFormat, -1) {
		out = append(out, m[1])
	}
	return out
}

var (
	guid        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	period      = regexp.MustCompile(`^[0-9]+[mhd]$`)
	tech        = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	semver      = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	tactics     = map[string]bool{"InitialAccess": true, "Execution": true, "Persistence": true, "PrivilegeEscalation": true, "DefenseEvasion": true, "CredentialAccess": true, "Discovery": true, "LateralMovement": true, "Collection": true, "CommandAndControl": true, "Exfiltration": true, "Impact": true}
	entities    = map[string][]string{"Host": {"HostName", "FullName"}, "Account": {"Name", "FullName"}, "Process": {"ProcessId", "CommandLine"}, "File": {"Name", "Directory"}, "FileHash": {"Algorithm", "Value"}}
	placeholder = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}`)
)

func TestSentinelAnalyticRules(t *testing.T) {
	sg, _, err := ruleset.Load(rules.Sigma(), nil)
	if err != nil {
		t.Fatal(err)
	}
	actionTypes := map[string]bool{}
	for _, r := range sg.Rules() {
		actionTypes[format.ActionType(r.Name)] = true
	}
	files, _ := filepath.Glob("sentinel/rules/*.yaml")
	if len(files) < 4 {
		t.Fatalf("%d analytic rules", len(files))
	}
	ids := map[string]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var r analyticRule
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&r); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		check := func(ok bool, what string) {
			if !ok {
				t.Errorf("%s: %s", f, what)
			}
		}
		check(guid.MatchString(r.ID) && !ids[r.ID], "id is not a fresh GUID")
		ids[r.ID] = true
		check(r.Name != "" && r.Description != "", "name and description required")
		check(map[string]bool{"Informational": true, "Low": true, "Medium": true, "High": true}[r.Severity], "severity")
		check(len(r.RequiredDataConnectors) > 0, "requiredDataConnectors")
		for _, c := range r.RequiredDataConnectors {
			check(c.ConnectorID != "" && len(c.DataTypes) > 0, "connector without id or data types")
		}
		check(period.MatchString(r.QueryFrequency) && period.MatchString(r.QueryPeriod), "queryFrequency/queryPeriod")
		// A window longer than the frequency puts an event in several
		// runs: one incident per run.
		check(r.QueryFrequency == r.QueryPeriod, "queryFrequency differs from queryPeriod: an event would raise an alert per run")
		check(r.AlertDetailsOverride.AlertSeverityColumnName != "", "severity not taken from the event (alertDetailsOverride.alertSeverityColumnName)")
		check(r.AlertDetailsOverride.AlertDisplayNameFormat != "" && r.AlertDetailsOverride.AlertDescriptionFormat != "", "alert name and description formats")
		check(r.CustomDetails["Reason"] != "" && r.CustomDetails["RiskScore"] != "", "customDetails Reason and RiskScore")
		check(map[string]bool{"gt": true, "lt": true, "eq": true, "ne": true}[r.TriggerOperator] && r.TriggerThreshold != nil, "trigger")
		check(len(r.Tactics) > 0, "tactics")
		for _, ta := range r.Tactics {
			check(tactics[ta], "tactic "+ta)
		}
		check(len(r.RelevantTechniques) > 0, "relevantTechniques")
		for _, te := range r.RelevantTechniques {
			check(tech.MatchString(te), "technique "+te)
		}
		check(r.Kind == "Scheduled" && semver.MatchString(r.Version), "kind and version")
		check(strings.Contains(r.Query, "Hookwatch"), "query uses no hookwatch parser")
		types := map[string]bool{}
		for _, e := range r.EntityMappings {
			types[e.EntityType] = true
			ok := false
			for _, fm := range e.FieldMappings {
				for _, id := range entities[e.EntityType] {
					ok = ok || fm.Identifier == id
				}
			}
			check(ok, "entity "+e.EntityType+" has no known identifier")
		}
		for _, want := range []string{"Host", "Account", "Process", "File", "FileHash"} {
			check(types[want], "no "+want+" entity")
		}
		// The ActionTypes a rule filters on are ones hookwatch emits.
		for _, m := range regexp.MustCompile(`"(Hookwatch[A-Za-z]+)"`).FindAllStringSubmatch(r.Query, -1) {
			check(actionTypes[m[1]], "unknown ActionType "+m[1])
		}
	}
}

// Hunting queries follow Azure-Sentinel's conventions.
func TestSentinelHuntingQueries(t *testing.T) {
	ids := map[string]bool{}
	for f, h := range huntingQueries(t) {
		check := func(ok bool, what string) {
			if !ok {
				t.Errorf("%s: %s", f, what)
			}
		}
		check(guid.MatchString(h.ID) && !ids[h.ID], "id is not a fresh GUID")
		ids[h.ID] = true
		check(h.Name != "" && h.Description != "" && len(h.RequiredDataConnectors) > 0, "name, description, requiredDataConnectors")
		check(len(h.Tactics) > 0 && len(h.RelevantTechniques) > 0, "tactics and techniques")
		for _, ta := range h.Tactics {
			check(tactics[ta], "tactic "+ta)
		}
		for _, te := range h.RelevantTechniques {
			check(tech.MatchString(te), "technique "+te)
		}
		check(semver.MatchString(h.Version) && strings.Contains(h.Query, "Hookwatch"), "version, and a query over a hookwatch parser")
		check(len(h.EntityMappings) > 0, "no entities")
	}
}

// Every parser projects every column of its Defender table.
func TestSentinelParsersCoverTheTables(t *testing.T) {
	b, err := os.ReadFile("../sensor/format/testdata/mde-tables.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Tables map[string][]struct{ Name string } `json:"tables"`
	}
	json.Unmarshal(b, &schema)
	for table, cols := range schema.Tables {
		kql, err := parserQuery("sentinel/parsers/Hookwatch" + table + ".yaml")
		if err != nil {
			t.Errorf("no parser for %s: %v", table, err)
			continue
		}
		for _, c := range cols {
			if !regexp.MustCompile(`(?m)^\s+` + c.Name + ` = to[a-z]+\(Row\.` + c.Name + `\)`).Match(kql) {
				t.Errorf("%s parser lacks column %s", table, c.Name)
			}
		}
		if !strings.Contains(string(kql), `Table == "`+table+`"`) {
			t.Errorf("%s parser does not select its table", table)
		}
	}
}

// parserQuery is the KQL of one parser file.
func parserQuery(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p parser
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return []byte(p.FunctionQuery), nil
}
