package packaging

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// cefColumns is where Microsoft's CEF connector puts each CEF extension key
// hookwatch sends, in CommonSecurityLog.
var cefColumns = map[string]string{
	"rt": "ReceiptTime", "act": "DeviceAction", "cat": "DeviceEventCategory", "externalId": "ExtID",
	"dvchost": "DeviceName", "suser": "SourceUserName", "suid": "SourceUserID", "spid": "SourceProcessId",
	"sproc": "SourceProcessName", "dpid": "DestinationProcessId", "dproc": "DestinationProcessName", "duser": "DestinationUserName", "fname": "FileName", "filePath": "FilePath", "fileHash": "FileHash", "msg": "Message",
	"cs1": "DeviceCustomString1", "cs2": "DeviceCustomString2", "cs3": "DeviceCustomString3",
	"cs4": "DeviceCustomString4", "cs5": "DeviceCustomString5", "cs6": "DeviceCustomString6",
	"cs1Label": "DeviceCustomString1Label", "cs2Label": "DeviceCustomString2Label", "cs3Label": "DeviceCustomString3Label",
	"cs4Label": "DeviceCustomString4Label", "cs5Label": "DeviceCustomString5Label", "cs6Label": "DeviceCustomString6Label",
	"flexString1": "FlexString1", "flexString1Label": "FlexString1Label", "flexString2": "FlexString2", "flexString2Label": "FlexString2Label",
}

// cefHeaderColumns are filled from the CEF header and by Log Analytics.
var cefHeaderColumns = map[string]bool{
	"DeviceVendor": true, "DeviceProduct": true, "DeviceVersion": true, "DeviceEventClassID": true,
	"Activity": true, "LogSeverity": true, "TimeGenerated": true, "Computer": true, "_ResourceId": true,
}

var (
	extraKey  = regexp.MustCompile(`\b(?:Extra|AdditionalFields)\.([a-z_]+)`)
	cefKey    = regexp.MustCompile(`(?:^| )([A-Za-z0-9]+)=`)
	kqlIdent  = regexp.MustCompile(`\b[A-Za-z_][A-Za-z0-9_]*\b`)
	headerEnd = regexp.MustCompile(`^(?:[^|\\]|\\.)*(?:\|(?:[^|\\]|\\.)*){7}\|`)
)

// The Sentinel content reads what hookwatch really writes: every
// AdditionalFields key an analytic rule or hunting query reads is in the
// rows hookwatch writes for the table it queries, and every
// CommonSecurityLog column the CEF branch of HookwatchRows reads is filled
// by a CEF key hookwatch sends (or by the header). A field renamed in an
// encoder, or misspelt in a query, breaks this test.
func TestSentinelContentReadsWhatHookwatchWrites(t *testing.T) {
	def, err := format.NewDefender("id")
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]map[string]bool{} // Defender table -> AdditionalFields keys
	cefWritten := map[string]bool{}         // CommonSecurityLog columns
	note := func(doc *ecs.Doc) {
		row, err := def.Row(doc)
		if err != nil {
			t.Fatal(err)
		}
		table, _ := row["Table"].(string)
		var extra map[string]any
		if s, ok := row["AdditionalFields"].(string); ok {
			if err := json.Unmarshal([]byte(s), &extra); err != nil {
				t.Fatalf("AdditionalFields: %v", err)
			}
		}
		if written[table] == nil {
			written[table] = map[string]bool{}
		}
		for k := range extra {
			written[table][k] = true
		}
		b, err := format.CEF{Version: "1"}.Encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		ext := headerEnd.ReplaceAllString(string(b), " ")
		for _, m := range cefKey.FindAllStringSubmatch(ext, -1) {
			col, ok := cefColumns[m[1]]
			if !ok {
				t.Errorf("CEF key %s has no CommonSecurityLog column in this test's table: add it", m[1])
			}
			cefWritten[col] = true
		}
	}
	for cat, s := range samples(t) {
		note(s.doc)
		if cat == ruleset.ImageLoad && len(s.alerts) == 0 {
			t.Fatal("the image-load sample raised no alert: the alert rows are not covered")
		}
		for _, a := range s.alerts {
			note(a)
		}
	}

	reads := func(what, table, query string) {
		for _, m := range extraKey.FindAllStringSubmatch(query, -1) {
			if !written[table][m[1]] {
				t.Errorf("%s reads AdditionalFields.%s, which no %s row hookwatch writes has (it has %v)", what, m[1], table, sortedKeys(written[table]))
			}
		}
	}
	for f, r := range analyticRules(t) {
		reads(f, "DeviceEvents", r.Query)
	}
	for f, h := range huntingQueries(t) {
		reads(f, "DeviceImageLoadEvents", h.Query)
	}
	for _, p := range loadParsers(t, "sentinel/parsers") {
		for _, table := range []string{"DeviceEvents", "DeviceImageLoadEvents", "DeviceFileEvents", "DeviceProcessEvents"} {
			if strings.Contains(p.FunctionQuery, "Hookwatch"+table+"\n") {
				reads(p.file, table, p.FunctionQuery)
			}
		}
	}

	rows, err := parserQuery("sentinel/parsers/HookwatchRows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q := string(rows)
	start, end := strings.Index(q, "let FromCEF"), strings.Index(q, "union ")
	if start < 0 || end < start {
		t.Fatal("HookwatchRows has no CEF branch before its union")
	}
	cef := q[start:end]
	cols := cslColumns(t)
	for _, id := range kqlIdent.FindAllString(cef, -1) {
		if cols[id] && !cefHeaderColumns[id] && !cefWritten[id] {
			t.Errorf("HookwatchRows reads CommonSecurityLog.%s, which no CEF message hookwatch sends fills", id)
		}
	}
	// What every analytic rule takes its severity and details from.
	for _, k := range []string{"severity_level", "rule_name", "rule_id", "reason"} {
		if !strings.Contains(cef, `"`+k+`", `) {
			t.Errorf("CEF rows carry no AdditionalFields.%s: the analytic rules read it", k)
		}
	}
}

// cslColumns are CommonSecurityLog's columns.
func cslColumns(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("testdata/sentinel-tables.json")
	if err != nil {
		t.Fatal(err)
	}
	var tables struct {
		Tables map[string]string `json:"tables"`
	}
	json.Unmarshal(b, &tables)
	out := map[string]bool{}
	for _, c := range strings.Split(strings.Trim(tables.Tables["CommonSecurityLog"], "()"), ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(c), ":")
		out[name] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
