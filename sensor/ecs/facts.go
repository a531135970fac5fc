package ecs

// Facts: what the rules decided on, as labels, each once.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// sigmaStandard are the Sigma taxonomy fields ECS already carries in its
// own fields (process.*, dll.*, file.*).
var sigmaStandard = map[string]bool{
	"Image": true, "CommandLine": true, "ProcessId": true, "User": true, "UserId": true,
	"ParentProcessId": true, "ParentImage": true, "ParentCommandLine": true,
	"ImageLoaded": true, "TargetFilename": true, "Hashes": true,
	"ContainerId": true, "ContainerImage": true, "SourceImage": true, "SourceCommandLine": true, "SourceProcessId": true, "SourceUser": true, "SourceUserId": true,
}

// Facts are the facts the rules decided on (hookwatch's own Sigma fields,
// docs/rules.md) as labels: snake_case (LibraryTrust becomes
// library_trust), lists joined by spaces. What an alert was decided on
// travels with it, and telemetry carries the same facts so the rules,
// converted with the published pipeline, run in the SIEM too. An event's
// documents (its telemetry and each alert) share one Facts, made once.
type Facts = observation.Labels

// FactsOf makes the labels of an event's fields.
func (e *Encoder) FactsOf(fields map[string]any) Facts {
	f := make(Facts, 0, len(fields))
	for k, v := range fields {
		key := e.labelKey(k)
		if key == "" {
			continue // a Sigma standard field: ECS has it already
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case []string:
			s = strings.Join(v, " ")
		case bool:
			if !v && !e.falseTested[k] {
				continue // absent reads as false, and every byte is billed
			}
			s = strconv.FormatBool(v)
		case int:
			s = strconv.Itoa(v)
		default:
			s = fmt.Sprint(v)
		}
		if s != "" {
			f = append(f, observation.Label{Key: key, Value: clean(s)})
		}
	}
	slices.SortFunc(f, func(a, b observation.Label) int { return strings.Compare(a.Key, b.Key) })
	return f
}

// With adds an event's facts to one of its documents as labels, each fact
// once (see once).
func (e *Encoder) With(d *Doc, f Facts) *Doc {
	d.Labels = d.Labels.Merge(f) // a copy: the event's other documents share f
	once(d)
	e.saidElsewhere(d)
	return d
}

// categories are the rule categories of telemetry, by event.dataset.
var categories = map[string]string{
	observation.DatasetProcess: ruleset.ProcessCreation,
	observation.DatasetLibrary: ruleset.ImageLoad,
	observation.DatasetFile:    ruleset.FileEvent,
	observation.DatasetAccess:  ruleset.ProcessAccess,
}

// SaidElsewhere are the facts telemetry leaves out when the document says
// them another way and no rule of its category reads them: the target is
// the process itself (process.executable), an exec's loader variables and
// their items are in process.env_vars as written, the library is the item
// as written. An alert leaves out the same (leanAlert decides the rest).
var SaidElsewhere = []string{"TargetImage", "LoaderVariable", "LoaderItem", "Library"}

func (e *Encoder) saidElsewhere(d *Doc) {
	category := categories[d.Event.Dataset]
	if d.Rule != nil {
		category = d.Rule.Category
	}
	reads, l, p := e.reads[category], &d.Labels, d.Process
	if p == nil {
		return
	}
	if lib := l.Get("library"); !reads["Library"] && lib != "" && lib == l.Get("loader_item") {
		l.Delete("library")
	}
	if !reads["TargetImage"] && l.Get("target_image") == p.Executable {
		l.Delete("target_image")
	}
	if d.Event.Dataset == observation.DatasetProcess && len(p.EnvVars) > 0 && l.Get("loader_flag") == "" && !reads["LoaderVariable"] && !reads["LoaderItem"] {
		l.Delete("loader_variable")
		l.Delete("loader_item")
	}
}

// once keeps each fact under one key: a label whose fact has an ECS field
// in the document (the library's path and hash in dll.*, the score in
// event.risk_score) is left out, and file.* does not repeat the path
// dll.* names, nor its directory or name. Every byte is billed in the SIEM.
func once(d *Doc) {
	labels := &d.Labels
	if d.Event.RiskScore != nil {
		labels.Delete("risk_score")
	}
	dl := d.Dll
	if dl == nil {
		return
	}
	if labels.Get("library") == dl.Path {
		labels.Delete("library")
	}
	if dl.Hash != nil && labels.Get("library_sha256") == dl.Hash.SHA256 {
		labels.Delete("library_sha256")
	}
	if f := d.File; f != nil && f.Path == dl.Path {
		f.Path, f.Name, f.Directory = "", "", "" // all parts of the path dll.path names
	}
	if labels.Get("loader_item") == dl.Path {
		labels.Delete("loader_item") // written as it resolved
	}
}

// labelKey is snake(name), "" for a Sigma standard field (ECS has its own
// field for it), remembered: the rules' field names are few and every
// event spells them again.
func (e *Encoder) labelKey(name string) string {
	if k, ok := e.labelKeys.Load(name); ok {
		return k.(string)
	}
	k := ""
	if !sigmaStandard[name] {
		k = snake(name)
	}
	e.labelKeys.Store(name, k)
	return k
}

// snake turns a Sigma field name into a label key: LibrarySHA256 becomes
// library_sha256.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		upper := r >= 'A' && r <= 'Z'
		if upper && i > 0 {
			prev := rune(name[i-1])
			if prev >= 'a' && prev <= 'z' {
				b.WriteByte('_')
			}
		}
		if upper {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
