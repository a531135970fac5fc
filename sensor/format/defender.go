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

	"github.com/hookwatch/hookwatch/sensor/observation"
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

// Table says which table an observation belongs to.
func Table(o *observation.Observation) string {
	switch {
	case o.Alert(), o.Event.Dataset == observation.DatasetAccess:
		return "DeviceEvents"
	case o.Event.Dataset == observation.DatasetLibrary:
		return "DeviceImageLoadEvents"
	case o.Event.Dataset == observation.DatasetFile:
		return "DeviceFileEvents"
	}
	return "DeviceProcessEvents"
}

// Encode implements Encoder.
func (d *Defender) Encode(o *observation.Observation) ([]byte, error) {
	row, err := d.Row(o)
	if err != nil {
		return nil, err
	}
	b, err := MarshalDoc(row)
	if err != nil {
		return nil, fmt.Errorf("encoding Defender row: %w", err)
	}
	return b, nil
}

// none stands for a process or file an observation does not have.
var (
	noProcess observation.Process
	noHash    observation.Hash
)

// Row builds the row: every column of the table, those that do not apply
// empty ("" for strings, null otherwise).
func (d *Defender) Row(o *observation.Observation) (map[string]any, error) {
	table := Table(o)
	cols, ok := d.tables[table]
	if !ok {
		return nil, fmt.Errorf("no columns for table %s", table)
	}
	v := map[string]any{
		"Timestamp":  o.Timestamp,
		"DeviceId":   d.deviceID,
		"DeviceName": o.Host.Name,
		"ReportId":   d.report.Add(1),
	}
	extra := map[string]any{
		"event_id": o.Event.ID, "event_action": o.Event.Action, "hookwatch_dataset": o.Event.Dataset,
	}
	p := &noProcess
	if o.Process != nil {
		p = o.Process
	}
	parent := &noProcess
	if p.Parent != nil {
		parent = p.Parent
	}
	proc := func(prefix string, x *observation.Process) {
		v[prefix+"Id"] = x.PID
		v[prefix+"FileName"] = x.Name
		v[prefix+"FolderPath"] = x.Executable
		v[prefix+"CommandLine"] = x.CommandLine
		v[prefix+"CreationTime"] = x.Start
		v[prefix+"AccountName"] = userName(x.User)
	}
	parentCols := func() {
		v["InitiatingProcessParentId"] = parent.PID
		v["InitiatingProcessParentFileName"] = baseOf(parent.Executable)
	}
	// subject fills the columns of tables whose row is about a process
	// (Process*) started by another (InitiatingProcess*). The parent's own
	// parent is not known here.
	subject := func() {
		v["ProcessId"] = p.PID
		v["ProcessCommandLine"] = p.CommandLine
		v["ProcessCreationTime"] = p.Start
		v["AccountName"] = userName(p.User)
		proc("InitiatingProcess", parent)
	}
	switch table {
	case "DeviceProcessEvents":
		v["ActionType"] = "ProcessCreated"
		v["FileName"] = path.Base(p.Executable)
		v["FolderPath"] = p.Executable
		subject()
	case "DeviceImageLoadEvents":
		v["ActionType"] = "ImageLoaded"
		d.dll(v, o)
		proc("InitiatingProcess", p)
		parentCols()
		v["InitiatingProcessParentCreationTime"] = parent.Start
	case "DeviceFileEvents":
		v["ActionType"] = map[string]string{
			"loader-config-created": "FileCreated", "loader-config-modified": "FileModified",
			"loader-config-deleted": "FileDeleted", "loader-config-renamed": "FileRenamed",
			"loader-config-present": "FileModified",
		}[o.Event.Action]
		d.configFile(v, o)
		if f := o.File; f != nil && f.TargetPath != "" {
			// Renamed away: the row names the new name, Previous* the old.
			v["PreviousFolderPath"], v["PreviousFileName"] = v["FolderPath"], v["FileName"]
			v["FolderPath"], v["FileName"] = f.TargetPath, path.Base(f.TargetPath)
		} else if from := o.Labels.Get("renamed_from"); from != "" {
			v["ActionType"] = "FileRenamed"
			v["PreviousFolderPath"], v["PreviousFileName"] = from, path.Base(from)
		}
		proc("InitiatingProcess", p)
		parentCols()
	case "DeviceEvents":
		// The rule's stable name (event.action), not its title, so
		// queries survive a reworded title.
		v["ActionType"] = ActionType(o.Event.Action)
		if o.Dll != nil && o.Dll.Path != "" {
			d.dll(v, o)
		} else {
			d.configFile(v, o)
		}
		if isAccess(o) {
			// As Defender's OpenProcessApiCall rows: the caller is the
			// initiating process, the process it reached the subject.
			if !o.Alert() {
				v["ActionType"] = accessActionType(o.Event.Action)
			}
			proc("InitiatingProcess", p)
			parentCols()
			if t := o.Labels.Get("target_image"); t != "" {
				v["FolderPath"], v["FileName"] = t, path.Base(t)
			}
			v["ProcessId"], _ = strconv.ParseInt(o.Labels.Get("target_process_id"), 10, 64)
			v["AccountName"] = o.Labels.Get("target_user")
		} else {
			subject()
		}
		if o.Alert() {
			d.alertFields(extra, o, p)
		}
		if o.Event.RiskScore != nil {
			extra["risk_score"] = *o.Event.RiskScore
		}
	}
	// Facts with no column: the Linux identity of the process, the loader
	// variables, and hookwatch's labels.
	addNonEmpty(extra, "process_entity_id", p.EntityID)
	if p.User != nil {
		addNonEmpty(extra, "process_uid", p.User.ID)
	}
	addNonEmpty(extra, "parent_executable", parent.Executable)
	if c := o.Container; c != nil {
		addNonEmpty(extra, "container_id", c.ID)
		addNonEmpty(extra, "container_runtime", c.Runtime)
		if c.Image != nil {
			addNonEmpty(extra, "container_image", c.Image.Name)
		}
	}
	if p.EnvVars != nil {
		extra["env_vars"] = p.EnvVars
	}
	if o.File != nil {
		addNonEmpty(extra, "inode", o.File.Inode)
	}
	if o.Package != nil {
		addNonEmpty(extra, "package", o.Package.Name)
	}
	for _, l := range o.Labels {
		extra[l.Key] = l.Value
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

// alertFields are a detection's facts with no column.
func (d *Defender) alertFields(extra map[string]any, o *observation.Observation, p *observation.Process) {
	if o.Rule != nil {
		addNonEmpty(extra, "rule_id", o.Rule.ID)
	}
	addNonEmpty(extra, "rule_name", o.Event.Action)
	addNonEmpty(extra, "severity", o.Labels.Get("severity_level"))
	addNonEmpty(extra, "reason", o.Event.Reason)
	if t := o.Threat; t != nil && t.Technique != nil && t.Technique.Subtechnique != nil {
		addNonEmpty(extra, "techniques", strings.Join(t.Technique.Subtechnique.ID, " "))
	}
	if o.File != nil {
		addNonEmpty(extra, "config_file", o.File.Path)
	}
	addNonEmpty(extra, "process_name", p.Name)
	addNonEmpty(extra, "process_executable", p.Executable)
}

func addNonEmpty(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func userName(u *observation.ID) string {
	if u == nil {
		return ""
	}
	return u.Name
}

// dll fills the file columns from dll.*.
func (d *Defender) dll(v map[string]any, o *observation.Observation) {
	if o.Dll != nil {
		d.file(v, o, o.Dll.Path, o.Dll.Hash)
	}
}

// configFile fills the file columns from file.*.
func (d *Defender) configFile(v map[string]any, o *observation.Observation) {
	if o.File != nil {
		d.file(v, o, o.File.Path, o.File.Hash)
	}
}

func (d *Defender) file(v map[string]any, o *observation.Observation, p string, h *observation.Hash) {
	if p == "" {
		return
	}
	if h == nil {
		h = &noHash
	}
	v["FolderPath"] = p
	v["FileName"] = path.Base(p)
	v["SHA1"] = h.SHA1
	v["SHA256"] = h.SHA256
	v["MD5"] = h.MD5
	// file.* is this file's when it names no other (it leaves out the
	// path dll.* already names).
	if f := o.File; f != nil && f.Size != nil && (f.Path == p || f.Path == "") {
		v["FileSize"] = *f.Size
	}
}

// isAccess says the document is about one process reaching into another.
func isAccess(o *observation.Observation) bool {
	return o.Event.Dataset == observation.DatasetAccess || o.Rule != nil && o.Rule.Category == "process_access"
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
