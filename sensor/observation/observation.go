// Package observation is hookwatch's one event model: what the sensor saw
// and what its rules decided, typed, in the shape of ECS 9.4.0 (the schema
// the SIEM stores). sensor/ecs builds one per document; the encoders in
// sensor/format (ECS JSON, Defender rows, CEF, console) are peers that each
// read it, and the publisher takes kind, time and level from it. Nothing
// reads an encoded document back.
//
// Fields are declared in the order of their JSON names, so the JSON of an
// Observation has its keys sorted like every hookwatch document before it.
package observation

import "time"

// Observation is one document: an event, an alert, or a summary of many.
type Observation struct {
	Timestamp string     `json:"@timestamp"`
	Container *Container `json:"container,omitempty"`
	Dll       *Dll       `json:"dll,omitempty"`
	ECS       ECS        `json:"ecs"`
	Event     Event      `json:"event"`
	File      *File      `json:"file,omitempty"`
	Host      Host       `json:"host"`
	// Labels are the facts ECS has no field for, each once.
	Labels   Labels   `json:"labels,omitempty"`
	Message  string   `json:"message,omitempty"`
	Observer Observer `json:"observer"`
	Package  *Package `json:"package,omitempty"`
	Process  *Process `json:"process,omitempty"`
	Rule     *Rule    `json:"rule,omitempty"`
	Threat   *Threat  `json:"threat,omitempty"`

	// Time is Timestamp's instant (syslog headers, CEF's rt).
	Time time.Time `json:"-"`
	// Level is an alert's level (LevelNone for telemetry).
	Level Level `json:"-"`
}

// Alert says the observation is a rule's verdict.
func (o *Observation) Alert() bool { return o.Event.Kind == KindAlert }

// Event kinds (event.kind).
const (
	KindEvent = "event"
	KindAlert = "alert"
)

// Datasets (event.dataset): hookwatch and the kind of event.
const (
	DatasetProcess = "hookwatch.process"
	DatasetLibrary = "hookwatch.library"
	DatasetFile    = "hookwatch.file"
	DatasetAccess  = "hookwatch.access"
	DatasetAlert   = "hookwatch.alert"
)

// ECS names the schema version.
type ECS struct {
	Version string `json:"version"`
}

// Event is event.*.
type Event struct {
	Action    string   `json:"action"`
	Category  []string `json:"category"`
	Created   string   `json:"created,omitempty"`
	Dataset   string   `json:"dataset"`
	End       string   `json:"end,omitempty"`
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Reason    string   `json:"reason,omitempty"`
	RiskScore *float64 `json:"risk_score,omitempty"`
	Severity  *int64   `json:"severity,omitempty"`
	Start     string   `json:"start,omitempty"`
	Type      []string `json:"type"`
}

// Host is host.*: the machine.
type Host struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	OS   OS     `json:"os"`
}

// OS is host.os.*.
type OS struct {
	Kernel string `json:"kernel,omitempty"`
	Type   string `json:"type"`
}

// Observer is observer.*: the sensor.
type Observer struct {
	Product string `json:"product,omitempty"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// Process is process.* (and its parent).
type Process struct {
	Args        []string `json:"args,omitempty"`
	CommandLine string   `json:"command_line,omitempty"`
	EntityID    string   `json:"entity_id,omitempty"`
	EnvVars     []string `json:"env_vars,omitempty"`
	Executable  string   `json:"executable,omitempty"`
	Group       *ID      `json:"group,omitempty"`
	Name        string   `json:"name,omitempty"`
	Parent      *Process `json:"parent,omitempty"`
	PID         int64    `json:"pid,omitempty"`
	RealGroup   *ID      `json:"real_group,omitempty"`
	RealUser    *ID      `json:"real_user,omitempty"`
	Start       string   `json:"start,omitempty"`
	User        *ID      `json:"user,omitempty"`
}

// ID is a user or group: its number and, where the host names it, name.
type ID struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Dll is dll.*: a library mapped into the process.
type Dll struct {
	Hash *Hash  `json:"hash,omitempty"`
	Path string `json:"path"`
}

// Hash is *.hash.*.
type Hash struct {
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// File is file.*.
type File struct {
	Device     string `json:"device,omitempty"`
	Directory  string `json:"directory,omitempty"`
	GID        string `json:"gid,omitempty"`
	Group      string `json:"group,omitempty"`
	Hash       *Hash  `json:"hash,omitempty"`
	Inode      string `json:"inode,omitempty"`
	Mode       string `json:"mode,omitempty"`
	Name       string `json:"name,omitempty"`
	Owner      string `json:"owner,omitempty"`
	Path       string `json:"path,omitempty"`
	Size       *int64 `json:"size,omitempty"`
	TargetPath string `json:"target_path,omitempty"`
	Type       string `json:"type,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// Package is package.*: what installed a file.
type Package struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// Container is container.*.
type Container struct {
	ID      string `json:"id"`
	Image   *Image `json:"image,omitempty"`
	Runtime string `json:"runtime,omitempty"`
}

// Image is container.image.*.
type Image struct {
	Name string `json:"name"`
}

// Rule is rule.*: the rule an alert is from.
type Rule struct {
	Category  string `json:"category,omitempty"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Reference string `json:"reference,omitempty"`
	Ruleset   string `json:"ruleset,omitempty"`
}

// Threat is threat.*: ATT&CK from the rule's tags.
type Threat struct {
	Framework string     `json:"framework"`
	Tactic    *Named     `json:"tactic,omitempty"`
	Technique *Technique `json:"technique,omitempty"`
}

// Named is a list of ids and their names (names may be left out).
type Named struct {
	ID   []string `json:"id"`
	Name []string `json:"name,omitempty"`
}

// Technique is threat.technique.*.
type Technique struct {
	ID           []string `json:"id"`
	Name         []string `json:"name,omitempty"`
	Subtechnique *Named   `json:"subtechnique,omitempty"`
}

// Int64 and Float64 point at a copy of v (the optional numbers).
func Int64(v int64) *int64       { return &v }
func Float64(v float64) *float64 { return &v }
