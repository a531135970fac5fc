package ruleset

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/hookwatch/hookwatch/rules"
)

// sigmaSchema compiles testdata/sigma-rule.schema.json.
func sigmaSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("testdata/sigma-rule.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// validateRule checks one rule file against the schema, as JSON: YAML's
// dates become the YYYY-MM-DD strings the specification writes.
func validateRule(sch *jsonschema.Schema, data []byte) error {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	b, err := json.Marshal(datesAsStrings(doc))
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func datesAsStrings(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.Format(time.DateOnly)
	case map[string]any:
		for k, x := range v {
			v[k] = datesAsStrings(x)
		}
	case []any:
		for i, x := range v {
			v[i] = datesAsStrings(x)
		}
	}
	return v
}

// Every shipped rule, and every SigmaHQ-style rule the tests load, meets
// the Sigma rule specification's constraints (the schema in testdata).
func TestRulesMeetTheSigmaSpecification(t *testing.T) {
	sch := sigmaSchema(t)
	n := 0
	fs.WalkDir(rules.Sigma(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		b, _ := fs.ReadFile(rules.Sigma(), p)
		if err := validateRule(sch, b); err != nil {
			t.Errorf("rules/sigma/%s: %v", p, err)
		}
		n++
		return nil
	})
	files, _ := filepath.Glob("testdata/sigmahq-style/*.yml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if err := validateRule(sch, b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("validated %d rules", n)
	}
}

// Rules that break the specification are refused by the schema check.
func TestSigmaSchemaRefusesBadRules(t *testing.T) {
	sch := sigmaSchema(t)
	good := "title: T\nid: 4877e009-9131-4890-868a-47fcd3eae985\nstatus: test\ndate: 2026-11-27\nlevel: high\n" +
		"tags: [attack.credential-access, attack.t1574.006]\nlogsource: {product: linux, category: image_load}\n" +
		"detection: {selection: {Image|endswith: /ssh}, condition: selection}\n"
	if err := validateRule(sch, []byte(good)); err != nil {
		t.Fatalf("a valid rule is refused: %v", err)
	}
	for name, bad := range map[string]string{
		"no title":     strings.Replace(good, "title: T\n", "", 1),
		"bad id":       strings.Replace(good, "4877e009-9131-4890-868a-47fcd3eae985", "not-a-uuid", 1),
		"bad status":   strings.Replace(good, "status: test", "status: production", 1),
		"bad level":    strings.Replace(good, "level: high", "level: severe", 1),
		"bad date":     strings.Replace(good, "date: 2026-11-27", "date: 2026/11/27", 1),
		"bad tag":      strings.Replace(good, "attack.credential-access", "Attack Credential Access", 1),
		"no condition": strings.Replace(good, ", condition: selection", "", 1),
		"no logsource": strings.Replace(good, "logsource: {product: linux, category: image_load}\n", "", 1),
	} {
		if err := validateRule(sch, []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
