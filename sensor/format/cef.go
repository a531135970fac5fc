package format

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/observation"
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

// Encode implements Encoder.
func (c CEF) Encode(o *observation.Observation) ([]byte, error) {
	sig := "hookwatch-" + o.Event.Action
	name := ""
	if o.Rule != nil {
		name = o.Rule.Name
	}
	alert := o.Rule != nil && o.Rule.ID != ""
	if !alert {
		sig = o.Event.Action
		name = o.Message
	}
	sev := observation.LevelNone.CEF() // telemetry: low
	if alert {
		sev = o.Level.CEF()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|hookwatch|hookwatch|%s|%s|%s|%d|", header(c.Version), header(sig), header(name), min(sev, 10))

	ext := []string{}
	add := func(k, v string) {
		if v != "" {
			ext = append(ext, k+"="+extValue(v))
		}
	}
	if !o.Time.IsZero() {
		add("rt", strconv.FormatInt(o.Time.UnixMilli(), 10))
	}
	add("act", o.Event.Action)
	add("cat", strings.Join(o.Event.Category, " "))
	add("externalId", o.Event.ID)
	add("dvchost", o.Host.Name)
	p := &noProcess
	if o.Process != nil {
		p = o.Process
	}
	if p.User != nil {
		add("suser", p.User.Name)
		add("suid", p.User.ID)
	}
	if p.PID != 0 {
		add("spid", strconv.FormatInt(p.PID, 10))
	}
	add("sproc", p.Executable)
	if target := o.Labels.Get("target_process_id"); target != "" {
		add("dpid", target)
		add("dproc", o.Labels.Get("target_image"))
		add("duser", o.Labels.Get("target_user"))
	}
	path, hash := "", ""
	if o.Dll != nil && o.Dll.Path != "" {
		path = o.Dll.Path
		if o.Dll.Hash != nil {
			hash = o.Dll.Hash.SHA256
		}
	} else if o.File != nil {
		path = o.File.Path
	}
	if hash == "" && o.File != nil && o.File.Hash != nil {
		hash = o.File.Hash.SHA256
	}
	if path != "" {
		add("fname", baseName(path))
		add("filePath", path)
	}
	add("fileHash", hash)
	add("msg", o.Message)
	// Custom strings, numbered as they always were (Sentinel's parser
	// reads them by label).
	techniques := ""
	if t := o.Threat; t != nil && t.Technique != nil && t.Technique.Subtechnique != nil {
		techniques = strings.Join(t.Technique.Subtechnique.ID, " ")
	}
	ruleID := ""
	if o.Rule != nil {
		ruleID = o.Rule.ID
	}
	for i, l := range [6][2]string{
		{"RuleId", ruleID},
		{"Techniques", techniques},
		{"LoaderVariables", strings.Join(p.EnvVars, " ")},
		{"ParentProcess", parentExecutable(p)},
		{"Reason", o.Event.Reason},
		{"EntityId", p.EntityID},
	} {
		if l[1] != "" {
			n := strconv.Itoa(i + 1)
			add("cs"+n+"Label", l[0])
			add("cs"+n, l[1])
		}
	}
	if alert {
		add("flexString1Label", "ActionType")
		add("flexString1", ActionType(o.Event.Action))
	}
	if o.Container != nil && o.Container.ID != "" {
		add("flexString2Label", "ContainerId")
		add("flexString2", o.Container.ID)
	}
	b.WriteString(strings.Join(ext, " "))
	return []byte(b.String()), nil
}

func parentExecutable(p *observation.Process) string {
	if p.Parent == nil {
		return ""
	}
	return p.Parent.Executable
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
