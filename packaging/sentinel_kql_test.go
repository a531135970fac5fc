package packaging

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// parser is an Azure-Sentinel parser file (Solutions/*/Parsers/*.yaml).
type parser struct {
	ID       string `yaml:"id"`
	Function struct {
		Title       string `yaml:"Title"`
		Version     string `yaml:"Version"`
		LastUpdated string `yaml:"LastUpdated"`
	} `yaml:"Function"`
	Category       string `yaml:"Category"`
	FunctionName   string `yaml:"FunctionName"`
	FunctionAlias  string `yaml:"FunctionAlias"`
	Description    string `yaml:"Description"`
	FunctionQuery  string `yaml:"FunctionQuery"`
	FunctionParams []struct {
		Name    string `yaml:"Name"`
		Type    string `yaml:"Type"`
		Default string `yaml:"Default"`
	} `yaml:"FunctionParams"`

	file string
}

// paramList is the function's parameters as KQL declares them.
func (p parser) paramList() string {
	var ps []string
	for _, fp := range p.FunctionParams {
		s := fp.Name + ":" + fp.Type
		if fp.Default != "" {
			s += "=" + fp.Default
		}
		ps = append(ps, s)
	}
	return "(" + strings.Join(ps, ", ") + ")"
}

// loadParsers reads every parser file under dir, strictly.
func loadParsers(t *testing.T, dir string) []parser {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no parsers in %s", dir)
	}
	var out []parser
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p parser
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		p.file = f
		out = append(out, p)
	}
	return out
}

type kqlQuery struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type kqlFunction struct {
	Name   string `json:"name"`
	Params string `json:"params"`
	Body   string `json:"body"`
}

type kqlResult struct {
	Name    string `json:"name"`
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Diagnostics []struct {
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Start    int    `json:"start"`
		Text     string `json:"text"`
	} `json:"diagnostics"`
}

// analyseKQL runs Microsoft's Kusto language service (tools/kql, installed
// by `npm ci` there) over the queries, with the Log Analytics tables of
// testdata/sentinel-tables.json and the given functions declared. The
// function bodies are analysed too.
func analyseKQL(t *testing.T, functions []kqlFunction, queries []kqlQuery) []kqlResult {
	t.Helper()
	if _, err := os.Stat("../tools/kql/node_modules/@kusto/language-service-next"); err != nil {
		t.Fatal("the Kusto language service is not installed: run `npm ci --prefix tools/kql` (.ci/run and make deps do)")
	}
	b, err := os.ReadFile("testdata/sentinel-tables.json")
	if err != nil {
		t.Fatal(err)
	}
	var tables struct {
		Tables map[string]string `json:"tables"`
	}
	if err := json.Unmarshal(b, &tables); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{"tables": tables.Tables, "functions": functions, "queries": queries})
	cmd := exec.Command("node", "../tools/kql/check.js")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tools/kql/check.js: %v\n%s", err, stderr.String())
	}
	var res []kqlResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("tools/kql/check.js output: %v\n%s", err, out)
	}
	if len(res) != len(functions)+len(queries) {
		t.Fatalf("%d results for %d queries and %d functions", len(res), len(queries), len(functions))
	}
	return res
}

// shippedKQL is every KQL query hookwatch ships: the parsers (as the
// functions the others call) and the analytic rules' queries.
func shippedKQL(t *testing.T) ([]kqlFunction, []kqlQuery) {
	t.Helper()
	var fns []kqlFunction
	for _, p := range loadParsers(t, "sentinel/parsers") {
		fns = append(fns, kqlFunction{Name: p.FunctionAlias, Params: p.paramList(), Body: p.FunctionQuery})
	}
	var qs []kqlQuery
	for f, r := range analyticRules(t) {
		qs = append(qs, kqlQuery{Name: f, Text: r.Query})
	}
	for f, r := range huntingQueries(t) {
		qs = append(qs, kqlQuery{Name: f, Text: r.Query})
	}
	return fns, qs
}

// analyticRules reads the shipped analytic rules by file.
func analyticRules(t *testing.T) map[string]analyticRule {
	return readRules(t, "sentinel/rules/*.yaml")
}

// huntingQueries reads the shipped hunting queries by file (the analytic
// rule fields they share).
func huntingQueries(t *testing.T) map[string]analyticRule {
	return readRules(t, "sentinel/hunting/*.yaml")
}

func readRules(t *testing.T, glob string) map[string]analyticRule {
	t.Helper()
	out := map[string]analyticRule{}
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatalf("nothing matches %s", glob)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var r analyticRule
		if err := yaml.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = r
	}
	return out
}

// Every shipped query parses, names only real tables, columns and
// functions, and type-checks, by Microsoft's own analyser; every parser's
// result keeps the columns Sentinel's time filters, workbooks and
// resource-context RBAC rely on, and each ASIM parser yields every field
// its schema marks mandatory, with the schema's type.
func TestKQLAnalysis(t *testing.T) {
	t.Parallel() // node and the analyser take seconds: overlap the package's other tests
	fns, qs := shippedKQL(t)
	rules, hunts := analyticRules(t), huntingQueries(t)
	for _, r := range analyseKQL(t, fns, qs) {
		for _, d := range r.Diagnostics {
			t.Errorf("%s: %s at %d (%q): %s", r.Name, d.Severity, d.Start, d.Text, d.Message)
		}
		cols := map[string]string{}
		for _, c := range r.Columns {
			cols[c.Name] = c.Type
		}
		if h, ok := hunts[r.Name]; ok {
			for _, c := range h.columns() {
				if _, ok := cols[c]; !ok {
					t.Errorf("%s: maps entity column %s, which the query does not return", r.Name, c)
				}
			}
			continue
		}
		fn, isFunction := strings.CutPrefix(r.Name, "function ")
		if !isFunction {
			// An analytic rule: every column its entities, custom details,
			// severity and alert texts name is in the query's result.
			for _, c := range rules[r.Name].columns() {
				if _, ok := cols[c]; !ok {
					t.Errorf("%s: names column %s, which the query does not return", r.Name, c)
				}
			}
			if c := rules[r.Name].AlertDetailsOverride.AlertSeverityColumnName; cols[c] != "string" {
				t.Errorf("%s: severity column %s is %q, want string", r.Name, c, cols[c])
			}
			continue
		}
		want := map[string]string{"TimeGenerated": "datetime", "Computer": "string", "_ResourceId": "string"}
		for schema, fields := range asimMandatory {
			if strings.HasPrefix(fn, "ASim"+schema) || strings.HasPrefix(fn, "vim"+schema) {
				maps.Copy(want, fields)
			}
		}
		for name, typ := range want {
			if got, ok := cols[name]; !ok || got != typ {
				t.Errorf("%s: column %s is %q, want %s", r.Name, name, got, typ)
			}
		}
	}
}

// asimMandatory are the fields the ASIM schemas mark mandatory (common
// fields, then the schema's own, aliases included), from Microsoft's ASIM
// schema references: ProcessEvent 0.1.4, FileEvent 0.2.1, AlertEvent 0.1.
var asimMandatory = map[string]map[string]string{
	"ProcessCreate": withCommon(map[string]string{
		"ActingProcessId": "string", "ActorUsername": "string",
		"TargetProcessId": "string", "TargetProcessName": "string", "TargetProcessCommandLine": "string",
		"TargetUsername": "string", "User": "string", "Process": "string", "CommandLine": "string",
	}),
	"FileEvent": withCommon(map[string]string{
		"TargetFilePath": "string", "ActorUsername": "string", "User": "string", "FilePath": "string",
	}),
	// AlertEvent 0.1: the common fields and the alert's own identity.
	"AlertEvent": withCommon(map[string]string{
		"EventSeverity": "string", "AlertName": "string", "AlertId": "string", "DetectionMethod": "string",
	}),
}

func withCommon(m map[string]string) map[string]string {
	maps.Copy(m, map[string]string{
		"TimeGenerated": "datetime", "EventCount": "int", "EventStartTime": "datetime", "EventEndTime": "datetime",
		"EventType": "string", "EventResult": "string", "EventProduct": "string", "EventVendor": "string",
		"EventSchema": "string", "EventSchemaVersion": "string", "Dvc": "string",
	})
	return m
}

// The analysis above can fail: a rule whose column is misspelt, a parser
// that reads a column its table does not have, and a syntax error are each
// reported.
func TestKQLAnalysisCatchesBrokenQueries(t *testing.T) {
	t.Parallel()
	fns, qs := shippedKQL(t)
	if len(qs) == 0 {
		t.Fatal("no analytic rules")
	}
	broken := []kqlQuery{
		{Name: "misspelt column", Text: strings.Replace(qs[0].Text, "DeviceName", "DeviceNmae", 1)},
		{Name: "syntax", Text: qs[0].Text + "\n| projec Timestamp"},
	}
	for i, f := range fns {
		if f.Name == "HookwatchRows" {
			fns[i].Body = strings.Replace(f.Body, "SyslogMessage", "SyslogMsg", 1)
		}
	}
	res := analyseKQL(t, fns, broken)
	want := map[string]string{"misspelt column": "DeviceNmae", "syntax": "projec", "function HookwatchRows": "SyslogMsg"}
	for _, r := range res {
		w, ok := want[r.Name]
		if !ok {
			continue
		}
		found := false
		for _, d := range r.Diagnostics {
			found = found || strings.Contains(d.Text, w) || strings.Contains(d.Message, w)
		}
		if !found {
			t.Errorf("%s: no diagnostic naming %q: %+v", r.Name, w, r.Diagnostics)
		}
		delete(want, r.Name)
	}
	if len(want) > 0 {
		t.Errorf("not analysed: %v", want)
	}
}
