package format

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CEF encodes a document as ArcSight Common Event Format, which the Azure
// Monitor Agent puts in Sentinel's CommonSecurityLog table:
//
//	CEF:0|hookwatch|hookwatch|VERSION|SignatureID|Name|Severity|extension
//
// The header escapes \ and |; extension values escape \, = and newlines.
type CEF struct {
	Version string
}

// cefLabels names the custom string fields (cs1..cs6).
var cefLabels = [6][2]string{
	{"RuleId", "rule.id"},
	{"Techniques", "threat.technique.subtechnique.id"},
	{"LoaderVariables", "process.env_vars"},
	{"ParentProcess", "process.parent.executable"},
	{"Reason", "event.reason"},
	{"EntityId", "process.entity_id"},
}

// Encode implements Encoder.
func (c CEF) Encode(doc map[string]any) ([]byte, error) {
	// Alerts: the rule's stable name, prefixed so a CEF consumer tells
	// them from telemetry (whose signature is the event's action).
	sig := "hookwatch-" + str(doc, "event.action")
	name := str(doc, "rule.name")
	alert := str(doc, "rule.id") != ""
	if !alert {
		sig = str(doc, "event.action")
		name = str(doc, "message")
	}
	sev := 3 // telemetry: low
	if alert {
		// The rule's level decides, as event.severity does.
		sev = map[string]int{"informational": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}[str(doc, "labels.severity_level")]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|hookwatch|hookwatch|%s|%s|%s|%d|", header(c.Version), header(sig), header(name), min(sev, 10))

	ext := []string{}
	add := func(k, v string) {
		if v != "" {
			ext = append(ext, k+"="+extValue(v))
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, str(doc, "@timestamp")); err == nil {
		add("rt", strconv.FormatInt(t.UnixMilli(), 10))
	}
	add("act", str(doc, "event.action"))
	add("cat", str(doc, "event.category"))
	add("externalId", str(doc, "event.id"))
	add("dvchost", str(doc, "host.name"))
	add("suser", str(doc, "process.user.name"))
	add("suid", str(doc, "process.user.id"))
	add("spid", str(doc, "process.pid"))
	// sproc alone: CommonSecurityLog maps sproc and sourceProcessName to the
	// same column (SourceProcessName), so sending both makes it ambiguous.
	add("sproc", str(doc, "process.executable"))
	// The process reached into (memory access): CEF's destination process.
	add("dpid", str(doc, "labels.target_process_id"))
	if str(doc, "labels.target_process_id") != "" {
		add("dproc", str(doc, "labels.target_image"))
		add("duser", str(doc, "labels.target_user"))
	}
	path := str(doc, "dll.path")
	if path == "" {
		path = str(doc, "file.path")
	}
	if path != "" {
		add("fname", baseName(path))
		add("filePath", path)
	}
	hash := str(doc, "dll.hash.sha256")
	if hash == "" {
		hash = str(doc, "file.hash.sha256")
	}
	add("fileHash", hash)
	add("msg", str(doc, "message"))
	for i, l := range cefLabels {
		if v := str(doc, l[1]); v != "" {
			n := strconv.Itoa(i + 1)
			add("cs"+n+"Label", l[0])
			add("cs"+n, v)
		}
	}
	if alert {
		// The Defender ActionType, so the Sentinel parser need not
		// rebuild it from the name.
		add("flexString1Label", "ActionType")
		add("flexString1", ActionType(str(doc, "event.action")))
	}
	if id := str(doc, "container.id"); id != "" {
		add("flexString2Label", "ContainerId")
		add("flexString2", id)
	}
	b.WriteString(strings.Join(ext, " "))
	return []byte(b.String()), nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// The escapers are built once: they never change.
var (
	headerEscaper = strings.NewReplacer(`\`, `\\`, "|", `\|`, "\r\n", " ", "\n", " ", "\r", " ")
	extEscaper    = strings.NewReplacer(`\`, `\\`, "=", `\=`, "\r\n", `\n`, "\n", `\n`, "\r", `\r`)
)

// header escapes a CEF header field.
func header(s string) string { return headerEscaper.Replace(Clean(s)) }

// extValue escapes a CEF extension value.
func extValue(s string) string { return extEscaper.Replace(Clean(s)) }
