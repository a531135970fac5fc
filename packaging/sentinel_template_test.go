package packaging

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated Sentinel content (the parsers' ARM template) from its sources")

const armTemplate = "sentinel/arm/hookwatch-parsers.json"

// parsersTemplate is an ARM template that deploys every parser as a
// workspace function (savedSearches), the way Azure-Sentinel deploys
// solution parsers: one resource per parser, its alias, query and
// parameters as in the parser file.
func parsersTemplate(ps []parser) ([]byte, error) {
	type props struct {
		Etag               string `json:"etag"`
		DisplayName        string `json:"displayName"`
		Category           string `json:"category"`
		FunctionAlias      string `json:"FunctionAlias"`
		Query              string `json:"query"`
		FunctionParameters string `json:"functionParameters,omitempty"`
		Version            int    `json:"version"`
	}
	type resource struct {
		Type       string `json:"type"`
		APIVersion string `json:"apiVersion"`
		Name       string `json:"name"`
		Location   string `json:"location"`
		Properties props  `json:"properties"`
	}
	type param struct {
		Type         string            `json:"type"`
		DefaultValue string            `json:"defaultValue,omitempty"`
		Metadata     map[string]string `json:"metadata"`
	}
	tpl := struct {
		Schema         string           `json:"$schema"`
		ContentVersion string           `json:"contentVersion"`
		Parameters     map[string]param `json:"parameters"`
		Resources      []resource       `json:"resources"`
	}{
		Schema:         "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		ContentVersion: "1.0.0.0",
		Parameters: map[string]param{
			"Workspace": {Type: "string", Metadata: map[string]string{"description": "The Log Analytics workspace of Microsoft Sentinel that receives hookwatch's Syslog or CommonSecurityLog rows."}},
			"WorkspaceRegion": {Type: "string", DefaultValue: "[resourceGroup().location]",
				Metadata: map[string]string{"description": "The workspace's region (by default, the resource group's)."}},
		},
	}
	for _, p := range ps {
		params := strings.TrimSuffix(strings.TrimPrefix(p.paramList(), "("), ")")
		tpl.Resources = append(tpl.Resources, resource{
			Type: "Microsoft.OperationalInsights/workspaces/savedSearches", APIVersion: "2020-08-01",
			Name: "[concat(parameters('Workspace'), '/" + p.FunctionAlias + "')]", Location: "[parameters('WorkspaceRegion')]",
			Properties: props{Etag: "*", DisplayName: p.Function.Title, Category: p.Category, FunctionAlias: p.FunctionAlias,
				Query: p.FunctionQuery, FunctionParameters: params, Version: 1},
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(tpl)
	return buf.Bytes(), err
}

// The committed ARM template deploys exactly the parsers in their files
// (`go test ./packaging -run TestParsersARMTemplate -update` rewrites it).
func TestParsersARMTemplate(t *testing.T) {
	ps := loadParsers(t, "sentinel/parsers")
	want, err := parsersTemplate(ps)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.MkdirAll("sentinel/arm", 0o755)
		if err := os.WriteFile(armTemplate, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(armTemplate)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: go test ./packaging -run TestParsersARMTemplate -update", armTemplate)
	}
	var doc struct {
		Resources []struct {
			Name       string `json:"name"`
			Properties struct {
				FunctionAlias, Query string
			} `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatalf("%s is not valid JSON: %v", armTemplate, err)
	}
	deployed := map[string]bool{}
	for _, r := range doc.Resources {
		deployed[r.Properties.FunctionAlias] = r.Properties.Query != "" && strings.HasSuffix(r.Name, "/"+r.Properties.FunctionAlias+"')]")
	}
	for _, p := range ps {
		if !deployed[p.FunctionAlias] {
			t.Errorf("%s is not deployed by %s", p.FunctionAlias, armTemplate)
		}
	}
}

// Every parser file follows Azure-Sentinel's parser conventions (that each
// keeps TimeGenerated, Computer and _ResourceId is checked on its analysed
// result, in TestKQLAnalysis).
func TestParserFiles(t *testing.T) {
	ids := map[string]bool{}
	for _, p := range loadParsers(t, "sentinel/parsers") {
		check := func(ok bool, what string) {
			if !ok {
				t.Errorf("%s: %s", p.file, what)
			}
		}
		check(guid.MatchString(p.ID) && !ids[p.ID], "id is not a fresh GUID")
		ids[p.ID] = true
		check(p.Function.Title != "" && semver.MatchString(p.Function.Version) && p.Function.LastUpdated != "", "Function: Title, Version, LastUpdated")
		check(p.Category == "Microsoft Sentinel Parser", "Category")
		check(p.FunctionName == p.FunctionAlias && strings.HasSuffix(p.file, "/"+p.FunctionAlias+".yaml"), "FunctionName, FunctionAlias and the file name agree")
	}
}
