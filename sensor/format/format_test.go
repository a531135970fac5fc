package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// hostile holds every byte that breaks a naive encoder.
const hostile = "a\nb]\"c\\d|e=f\xff\xfe g"

// fixtures are observations as the agent writes them, one per table, with
// hostile values where values come from the outside.
func fixtures() map[string]*observation.Observation {
	when := time.Date(2026, 11, 27, 3, 41, 16, 783713058, time.UTC)
	process := func() *observation.Process {
		return &observation.Process{
			PID: 4242, Name: "ssh", Executable: "/usr/bin/ssh", EntityID: "ent1",
			Args: []string{"ssh", hostile}, CommandLine: "ssh " + hostile, Start: "2026-11-27T03:00:00.000000000Z",
			EnvVars: []string{"LD_PRELOAD=/tmp/" + hostile + ".so"},
			User:    &observation.ID{ID: "1000", Name: "alice"},
			Parent:  &observation.Process{PID: 4100, Name: "bash", Executable: "/usr/bin/bash", CommandLine: "-bash", User: &observation.ID{ID: "1000", Name: "alice"}},
		}
	}
	base := func(kind, dataset, action string, cat, typ []string) *observation.Observation {
		return &observation.Observation{
			Timestamp: "2026-11-27T03:41:16.783713058Z", Time: when,
			ECS:      observation.ECS{Version: "9.4.0"},
			Event:    observation.Event{Kind: kind, Dataset: dataset, Action: action, Category: cat, Type: typ, ID: "id-" + action},
			Host:     observation.Host{Name: "web-1", ID: "machine-id", OS: observation.OS{Type: "linux"}},
			Message:  "message with " + hostile,
			Observer: observation.Observer{Vendor: "hookwatch", Version: "1.2.3"},
			Process:  process(),
		}
	}
	exec := base("event", "hookwatch.process", "exec", []string{"process"}, []string{"start"})
	lib := base("event", "hookwatch.library", "library-loaded", []string{"library"}, []string{"start"})
	lib.Dll = &observation.Dll{Path: "/tmp/" + hostile + ".so", Hash: &observation.Hash{SHA256: "aa", SHA1: "bb", MD5: "cc"}}
	lib.File = &observation.File{Path: "/tmp/" + hostile + ".so", Size: observation.Int64(15448), Inode: "99"}
	file := base("event", "hookwatch.file", "loader-config-renamed", []string{"file", "configuration"}, []string{"change"})
	file.File = &observation.File{Path: "/etc/ld.so.preload", TargetPath: "/etc/ld.so.preload.hidden", Hash: &observation.Hash{SHA256: "dd"}}
	file.Labels = observation.LabelsOf(map[string]string{"content": "/tmp/" + hostile + ".so\n", "writer_op": "rename"})
	alert := base("alert", "hookwatch.alert", "unexpected-library", []string{"intrusion_detection", "library"}, []string{"info", "start"})
	alert.Level = observation.LevelCritical
	alert.Event.RiskScore = observation.Float64(90)
	alert.Event.Severity = observation.Int64(99)
	alert.Event.Reason = "reason with " + hostile
	alert.Rule = &observation.Rule{ID: "dd2f4182-9ec0-4b18-b790-ad27f5d9575e", Name: "Unvouched library loaded into a credential process"}
	alert.Threat = &observation.Threat{Framework: "MITRE ATT&CK", Technique: &observation.Technique{ID: []string{"T1056", "T1574"}, Subtechnique: &observation.Named{ID: []string{"T1056.004", "T1574.006"}}}}
	alert.Dll = lib.Dll
	alert.Labels = observation.LabelsOf(map[string]string{"severity_level": "critical", "target": "/usr/bin/ssh"})
	access := base("event", "hookwatch.access", "mem-read", []string{"process"}, []string{"access"})
	access.Labels = observation.LabelsOf(map[string]string{"target_image": "/usr/bin/ssh-agent", "target_process_id": "1500", "target_user": "alice", "access_class": "read"})
	return map[string]*observation.Observation{"exec": exec, "library": lib, "file": file, "alert": alert, "access": access}
}

func encoders(t *testing.T) map[string]Encoder {
	d, err := NewDefender("machine-id")
	if err != nil {
		t.Fatal(err)
	}
	d.report.Store(1000) // deterministic for the golden files
	return map[string]Encoder{"ecs": ECS{}, "defender": d, "cef": CEF{Version: "1.2.3"}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		os.WriteFile(p, got, 0o644)
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, got, want)
	}
}

func TestEncodersGoldenAndWellFormed(t *testing.T) {
	fx := fixtures()
	encs := encoders(t)
	framer := &Syslog{Facility: 16, Hostname: "web-1", AppName: "hookwatch", pid: "77", StructuredData: `[hw@32473 env="t\]"]`}
	framer3164 := &Syslog{RFC3164: true, Facility: 16, Hostname: "web-1", AppName: "hookwatch", pid: "77"}
	when := time.Date(2026, 11, 27, 3, 41, 16, 0, time.UTC)
	for _, ev := range []string{"exec", "library", "file", "alert", "access"} {
		for _, en := range []string{"ecs", "defender", "cef"} {
			b, err := encs[en].Encode(fx[ev])
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(b, "\n\r") || !utf8.Valid(b) {
				t.Errorf("%s/%s is not one line of UTF-8: %q", ev, en, b)
			}
			if en != "cef" && !json.Valid(b) {
				t.Errorf("%s/%s is not JSON", ev, en)
			}
			golden(t, ev+"."+en, b)
		}
	}
	b, _ := encs["ecs"].Encode(fx["alert"])
	golden(t, "alert.rfc5424", framer.Frame(b, Severity(fx["alert"]), "alert", when))
	golden(t, "alert.rfc3164", framer3164.Frame(b, Severity(fx["alert"]), "alert", when.Local()))
}

func TestDefenderRowsMatchTheTables(t *testing.T) {
	var schema struct {
		Tables map[string][]column `json:"tables"`
	}
	b, err := os.ReadFile("testdata/mde-tables.json")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &schema)
	d := encoders(t)["defender"].(*Defender)
	want := map[string]string{"exec": "DeviceProcessEvents", "library": "DeviceImageLoadEvents", "file": "DeviceFileEvents", "alert": "DeviceEvents", "access": "DeviceEvents"}
	for ev, doc := range fixtures() {
		b, err := d.Encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		var row map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		dec.Decode(&row)
		table, _ := row["Table"].(string)
		if table != want[ev] {
			t.Errorf("%s went to %s, want %s", ev, table, want[ev])
		}
		// Every byte is billed in Sentinel: a row stays under 2 KiB
		// (the alert row was 2,770 bytes with its empty columns).
		if len(b) > 2048 {
			t.Errorf("%s: %d bytes, over the 2 KiB budget", ev, len(b))
		}
		if err := ValidateRow(schema.Tables, row); err != nil {
			t.Errorf("%s: %v", ev, err)
		}
	}
	// The row's facts, spot-checked.
	row, _ := d.Row(fixtures()["alert"])
	if row["ActionType"] != "HookwatchUnexpectedLibrary" || row["FolderPath"] != "/tmp/"+hostile+".so" || row["InitiatingProcessFileName"] != "bash" {
		t.Errorf("alert row: %v %v %v", row["ActionType"], row["FolderPath"], row["InitiatingProcessFileName"])
	}
	var extra map[string]any
	json.Unmarshal([]byte(row["AdditionalFields"].(string)), &extra)
	if extra["rule_id"] != "dd2f4182-9ec0-4b18-b790-ad27f5d9575e" || extra["env_vars"] == nil {
		t.Errorf("AdditionalFields: %v", extra)
	}
	fr, _ := d.Row(fixtures()["file"])
	if fr["ActionType"] != "FileRenamed" || fr["PreviousFileName"] != "ld.so.preload" || fr["FileName"] != "ld.so.preload.hidden" {
		t.Errorf("rename row: %v %v %v", fr["ActionType"], fr["PreviousFileName"], fr["FileName"])
	}
	d2, _ := NewDefender("machine-id")
	if d2.DeviceID() != d.DeviceID() {
		t.Error("DeviceId changes across restarts")
	}
}

// ValidateRow checks a row has only the table's columns plus Table (and,
// for DeviceImageLoadEvents, hookwatch's AdditionalFields), each of its
// type and none empty: a column that says nothing is left out.
func ValidateRow(tables map[string][]column, row map[string]any) error {
	table, _ := row["Table"].(string)
	cols, ok := tables[table]
	if !ok {
		return fmt.Errorf("unknown table %q", table)
	}
	if table == "DeviceImageLoadEvents" {
		// hookwatch's AdditionalFields, which Defender's table lacks.
		if _, ok := row["AdditionalFields"].(string); !ok {
			return fmt.Errorf("image load row without hookwatch's AdditionalFields")
		}
	}
	known := map[string]bool{"Table": true, "AdditionalFields": true}
	for _, c := range cols {
		known[c.Name] = true
	}
	for k, v := range row {
		if !known[k] {
			return fmt.Errorf("%s is not a column of %s", k, table)
		}
		if v == nil || v == "" {
			return fmt.Errorf("%s: an empty column is left out, not sent", k)
		}
	}
	for _, c := range cols {
		v, ok := row[c.Name]
		if !ok {
			continue
		}
		switch c.Type {
		case "string":
			if _, ok := v.(string); !ok {
				return fmt.Errorf("%s: want string, got %T", c.Name, v)
			}
		case "datetime":
			s, ok := v.(string)
			if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
				return fmt.Errorf("%s: want an ISO 8601 datetime, got %v", c.Name, v)
			}
		case "long", "int":
			n, ok := v.(json.Number)
			if _, err := n.Int64(); !ok || err != nil {
				return fmt.Errorf("%s: want an integer, got %v", c.Name, v)
			}
		case "bool":
			if _, ok := v.(bool); !ok {
				return fmt.Errorf("%s: want a bool, got %T", c.Name, v)
			}
		}
	}
	return nil
}

func TestCEFEscaping(t *testing.T) {
	doc := fixtures()["alert"]
	doc.Rule.Name = `pipe|back\slash`
	b, _ := CEF{Version: "1"}.Encode(doc)
	s := string(b)
	if !strings.Contains(s, `|pipe\|back\\slash|`) {
		t.Errorf("header not escaped: %s", s)
	}
	if !strings.Contains(s, `msg=message with a\nb]"c\\d|e\=f`) {
		t.Errorf("extension not escaped: %s", s)
	}
	if !strings.HasPrefix(s, "CEF:0|hookwatch|hookwatch|1|hookwatch-unexpected-library|") || !strings.Contains(s, "|10|") || !strings.Contains(s, "flexString1=HookwatchUnexpectedLibrary") {
		t.Errorf("header: %s", s)
	}
}

// One process field per CEF message: sproc and sourceProcessName both land
// in CommonSecurityLog's SourceProcessName, and the parser reads a path there.
func TestCEFOneProcessField(t *testing.T) {
	for name, doc := range fixtures() {
		b, err := CEF{Version: "1"}.Encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "sourceProcessName=") || strings.Count(s, " sproc=") != 1 || !strings.Contains(s, " sproc=/") {
			t.Errorf("%s: want exactly one process field, sproc with the executable's path: %s", name, s)
		}
	}
}

func TestFitShrinksToValidJSON(t *testing.T) {
	doc := fixtures()["exec"]
	big := strings.Repeat("x", 64<<10)
	doc.Process.Args = []string{"ssh", big}
	doc.Process.CommandLine = "ssh " + big
	doc.Message = big
	for name, enc := range encoders(t) {
		b, shrunk, err := Fit(enc, doc, 8192)
		if err != nil || !shrunk || len(b) > 8192 {
			t.Fatalf("%s: %d bytes, shrunk %v, err %v", name, len(b), shrunk, err)
		}
		if name != "cef" && !json.Valid(b) {
			t.Errorf("%s: shrunk message is not JSON", name)
		}
		if !strings.Contains(string(b), "[truncated ") {
			t.Errorf("%s: no truncation marker", name)
		}
	}
	if len(doc.Process.CommandLine) != len(big)+4 || doc.Process.Args[1] != big {
		t.Error("Fit changed the caller's document")
	}
}

func BenchmarkEncoders(b *testing.B) {
	doc := fixtures()["alert"]
	d, _ := NewDefender("m")
	for name, enc := range map[string]Encoder{"ecs": ECS{}, "defender": d, "cef": CEF{Version: "1"}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := Fit(enc, doc, 8192); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A memory access row reads as Defender's ReadProcessMemoryApiCall: the
// caller initiates, the process reached is the row's own; CEF names it as
// the destination process.
func TestAccessRows(t *testing.T) {
	d, err := NewDefender("machine-id")
	if err != nil {
		t.Fatal(err)
	}
	row, err := d.Row(fixtures()["access"])
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"Table": "DeviceEvents", "ActionType": "ReadProcessMemoryApiCall", "FolderPath": "/usr/bin/ssh-agent", "FileName": "ssh-agent",
		"ProcessId": int64(1500), "AccountName": "alice", "InitiatingProcessFolderPath": "/usr/bin/ssh", "InitiatingProcessId": int64(4242),
	} {
		if row[k] != want {
			t.Errorf("%s = %v (%T), want %v", k, row[k], row[k], want)
		}
	}
	b, _ := CEF{Version: "1"}.Encode(fixtures()["access"])
	for _, want := range []string{"dpid=1500", "dproc=/usr/bin/ssh-agent", "duser=alice", "spid=4242"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("CEF lacks %s: %s", want, b)
		}
	}
}
