package format

import (
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// The Defender tables' columns and types (from Microsoft's advanced-hunting
// schema reference): the rows carry exactly these, in this order.
//
//go:embed mde-tables.json
var mdeTables []byte

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Defender encodes each document as a row of the Microsoft Defender for
// Endpoint table it belongs to, plus a "Table" key: process starts with
// loader variables as DeviceProcessEvents, libraries as
// DeviceImageLoadEvents, loader configuration changes as DeviceFileEvents,
// detections as DeviceEvents. Linux facts with no column go in
// AdditionalFields (a JSON string); DeviceImageLoadEvents rows carry it too,
// beyond Defender's columns.
type Defender struct {
	deviceID string
	tables   map[string][]column
	// ReportId: Defender's "repeating counter", unique with DeviceName and
	// Timestamp. Seeded from the start time so a restart does not reuse
	// the values of the run before.
	report atomic.Int64
}

// NewDefender returns an encoder for a host with the given machine id; the
// DeviceId is derived from it, so it stays the same across restarts.
func NewDefender(machineID string) (*Defender, error) {
	var t struct {
		Tables map[string][]column `json:"tables"`
	}
	if err := json.Unmarshal(mdeTables, &t); err != nil {
		return nil, fmt.Errorf("reading Defender table columns: %w", err)
	}
	sum := sha1.Sum([]byte("hookwatch device " + machineID))
	d := &Defender{deviceID: hex.EncodeToString(sum[:]), tables: t.Tables}
	d.report.Store(time.Now().Unix() << 16)
	return d, nil
}

// DeviceID is the stable device id the rows carry.
func (d *Defender) DeviceID() string { return d.deviceID }

// Table says which table a document belongs to.
func Table(doc map[string]any) string {
	switch {
	case str(doc, "event.kind") == "alert", str(doc, "event.dataset") == "hookwatch.access":
		return "DeviceEvents"
	case str(doc, "event.dataset") == "hookwatch.library":
		return "DeviceImageLoadEvents"
	case str(doc, "event.dataset") == "hookwatch.file":
		return "DeviceFileEvents"
	}
	return "DeviceProcessEvents"
}

// Encode implements Encoder.
func (d *Defender) Encode(doc map[string]any) ([]byte, error) {
	row, err := d.Row(doc)
	if err != nil {
		return nil, err
	}
	b, err := MarshalDoc(row)
	if err != nil {
		return nil, fmt.Errorf("encoding Defender row: %w", err)
	}
	return b, nil
}

// Row builds the row: every column of the table, those that do not apply
// empty ("" for strings, null otherwise).
func (d *Defender) Row(doc map[string]any) (map[string]any, error) {
	table := Table(doc)
	cols, ok := d.tables[table]
	if !ok {
		return nil, fmt.Errorf("no columns for table %s", table)
	}
	v := map[string]any{
		"Timestamp":  str(doc, "@timestamp"),
		"DeviceId":   d.deviceID,
		"DeviceName": str(doc, "host.name"),
		"ReportId":   d.report.Add(1),
	}
	extra := map[string]any{
		"event_id": str(doc, "event.id"), "event_action": str(doc, "event.action"), "hookwatch_dataset": str(doc, "event.dataset"),
	}
	proc := func(prefix, ecs string) {
		v[prefix+"Id"], _ = num(doc, ecs+".pid")
		v[prefix+"FileName"] = str(doc, ecs+".name")
		v[prefix+"FolderPath"] = str(doc, ecs+".executable")
		v[prefix+"CommandLine"] = str(doc, ecs+".command_line")
		v[prefix+"CreationTime"] = str(doc, ecs+".start")
		v[prefix+"AccountName"] = str(doc, ecs+".user.name")
	}
	// subject fills the columns of tables whose row is about a process
	// (Process*) started by another (InitiatingProcess*).
	subject := func() {
		v["ProcessId"], _ = num(doc, "process.pid")
		v["ProcessCommandLine"] = str(doc, "process.command_line")
		v["ProcessCreationTime"] = str(doc, "process.start")
		v["AccountName"] = str(doc, "process.user.name")
		proc("InitiatingProcess", "process.parent")
		// The parent's own parent is not known here.
		delete(v, "InitiatingProcessParentId")
	}
	switch table {
	case "DeviceProcessEvents":
		v["ActionType"] = "ProcessCreated"
		v["FileName"] = path.Base(str(doc, "process.executable"))
		v["FolderPath"] = str(doc, "process.executable")
		subject()
	case "DeviceImageLoadEvents":
		v["ActionType"] = "ImageLoaded"
		d.file(v, doc, "dll.path", "dll.hash")
		proc("InitiatingProcess", "process")
		v["InitiatingProcessParentId"], _ = num(doc, "process.parent.pid")
		v["InitiatingProcessParentFileName"] = baseOf(str(doc, "process.parent.executable"))
		v["InitiatingProcessParentCreationTime"] = str(doc, "process.parent.start")
	case "DeviceFileEvents":
		v["ActionType"] = map[string]string{
			"loader-config-created": "FileCreated", "loader-config-modified": "FileModified",
			"loader-config-deleted": "FileDeleted", "loader-config-renamed": "FileRenamed",
			"loader-config-present": "FileModified",
		}[str(doc, "event.action")]
		d.file(v, doc, "file.path", "file.hash")
		if to := str(doc, "file.target_path"); to != "" {
			// Renamed away: the row names the new name, Previous* the old.
			v["PreviousFolderPath"], v["PreviousFileName"] = v["FolderPath"], v["FileName"]
			v["FolderPath"], v["FileName"] = to, path.Base(to)
		} else if from := str(doc, "labels.renamed_from"); from != "" {
			v["ActionType"] = "FileRenamed"
			v["PreviousFolderPath"], v["PreviousFileName"] = from, path.Base(from)
		}
		proc("InitiatingProcess", "process")
		v["InitiatingProcessParentId"], _ = num(doc, "process.parent.pid")
		v["InitiatingProcessParentFileName"] = baseOf(str(doc, "process.parent.executable"))
	case "DeviceEvents":
		// The rule's stable name (event.action), not its title, so
		// queries survive a reworded title.
		v["ActionType"] = ActionType(str(doc, "event.action"))
		if str(doc, "dll.path") != "" {
			d.file(v, doc, "dll.path", "dll.hash")
		} else {
			d.file(v, doc, "file.path", "file.hash")
		}
		if isAccess(doc) {
			// As Defender's OpenProcessApiCall rows: the caller is the
			// initiating process, the process it reached the subject.
			if str(doc, "event.kind") != "alert" {
				v["ActionType"] = accessActionType(str(doc, "event.action"))
			}
			proc("InitiatingProcess", "process")
			v["InitiatingProcessParentId"], _ = num(doc, "process.parent.pid")
			v["InitiatingProcessParentFileName"] = baseOf(str(doc, "process.parent.executable"))
			if t := str(doc, "labels.target_image"); t != "" {
				v["FolderPath"], v["FileName"] = t, path.Base(t)
			}
			v["ProcessId"], _ = strconv.ParseInt(str(doc, "labels.target_process_id"), 10, 64)
			v["AccountName"] = str(doc, "labels.target_user")
		} else {
			subject()
		}
		if str(doc, "event.kind") == "alert" {
			for k, p := range map[string]string{
				"rule_id": "rule.id", "rule_name": "event.action", "severity": "labels.severity_level", "reason": "event.reason",
				"techniques": "threat.technique.subtechnique.id", "config_file": "file.path",
				"process_name": "process.name", "process_executable": "process.executable",
			} {
				if s := str(doc, p); s != "" {
					extra[k] = s
				}
			}
		}
		if n, ok := get(doc, "event.risk_score").(float64); ok {
			extra["risk_score"] = n
		}
	}
	// Facts with no column: the Linux identity of the process, the loader
	// variables, and hookwatch's labels.
	for k, p := range map[string]string{
		"process_entity_id": "process.entity_id", "process_uid": "process.user.id",
		"parent_executable": "process.parent.executable",
		"container_id":      "container.id", "container_runtime": "container.runtime", "container_image": "container.image.name",
	} {
		if s := str(doc, p); s != "" {
			extra[k] = s
		}
	}
	if env := get(doc, "process.env_vars"); env != nil {
		extra["env_vars"] = env
	}
	if inode := str(doc, "file.inode"); inode != "" {
		extra["inode"] = inode
	}
	if pkg := str(doc, "package.name"); pkg != "" {
		extra["package"] = pkg
	}
	if labels, ok := get(doc, "labels").(map[string]any); ok {
		for k, l := range labels {
			extra[k] = l
		}
	}
	row := map[string]any{"Table": table}
	hasExtra := false
	for _, c := range cols {
		if c.Name == "AdditionalFields" {
			hasExtra = true
			continue
		}
		// Only the columns that say something: an empty column costs
		// bytes in Sentinel and reads the same as an absent one
		// (tostring(Row.X) is "" either way).
		if val, ok := v[c.Name]; ok && !isEmpty(val) {
			row[c.Name] = val
		}
	}
	// DeviceImageLoadEvents has no AdditionalFields column in Defender;
	// hookwatch's rows add one anyway (after Table, its second key beyond
	// Defender's columns) so a library's facts reach Sentinel like the
	// other tables' do. A Defender query ignores it.
	if hasExtra || table == "DeviceImageLoadEvents" {
		b, err := MarshalDoc(extra)
		if err != nil {
			return nil, fmt.Errorf("encoding AdditionalFields: %w", err)
		}
		row["AdditionalFields"] = string(b)
	}
	return row, nil
}

func (d *Defender) file(v map[string]any, doc map[string]any, pathKey, hashKey string) {
	p := str(doc, pathKey)
	if p == "" {
		return
	}
	v["FolderPath"] = p
	v["FileName"] = path.Base(p)
	v["SHA1"] = str(doc, hashKey+".sha1")
	v["SHA256"] = str(doc, hashKey+".sha256")
	v["MD5"] = str(doc, hashKey+".md5")
	// file.* is this file's when it names no other (it leaves out the
	// path dll.* already names).
	if n, ok := num(doc, "file.size"); ok && (str(doc, "file.path") == p || str(doc, "file.path") == "") {
		v["FileSize"] = n
	}
}

// isAccess says the document is about one process reaching into another.
func isAccess(doc map[string]any) bool {
	return str(doc, "event.dataset") == "hookwatch.access" || str(doc, "rule.category") == "process_access"
}

// accessActionType names an access as Defender names its Windows
// equivalents, so the seed's queries read the same on Linux.
func accessActionType(op string) string {
	switch op {
	case "ptrace-peek", "vm-read", "mem-read":
		return "ReadProcessMemoryApiCall"
	case "ptrace-poke", "ptrace-setregs", "vm-write", "mem-write":
		return "WriteProcessMemoryApiCall"
	}
	return "OpenProcessApiCall" // attach, seize, traced from exec
}

// baseOf is a path's last element ("" for "").
func baseOf(p string) string {
	if p == "" {
		return ""
	}
	return path.Base(p)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case int64:
		return x == 0
	case nil:
		return true
	}
	return false
}

// ActionType names a detection for DeviceEvents: "Hookwatch" and the rule
// name in CamelCase, e.g. HookwatchUnexpectedLibraryInACredentialProcess.
func ActionType(ruleName string) string {
	var b strings.Builder
	b.WriteString("Hookwatch")
	up := true
	for _, r := range ruleName {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
