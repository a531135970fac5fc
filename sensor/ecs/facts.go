package ecs

// Facts: what the rules decided on, as labels, each once.

import (
	"fmt"
	"strconv"
	"strings"
)

// sigmaStandard are the Sigma taxonomy fields ECS already carries in its
// own fields (process.*, dll.*, file.*).
var sigmaStandard = map[string]bool{
	"Image": true, "CommandLine": true, "ProcessId": true, "User": true, "UserId": true,
	"ParentProcessId": true, "ParentImage": true, "ParentCommandLine": true,
	"ImageLoaded": true, "TargetFilename": true, "Hashes": true,
	"ContainerId": true, "ContainerImage": true, "SourceImage": true, "SourceCommandLine": true, "SourceProcessId": true, "SourceUser": true, "SourceUserId": true,
}

// Facts adds the facts the rules decided on (hookwatch's own Sigma fields,
// docs/rules.md) to a document as labels, snake_case (LibraryTrust becomes
// labels.library_trust), lists joined by spaces: what an alert was decided
// on travels with it, and telemetry carries the same facts so the rules,
// converted with the published pipeline, run in the SIEM too.
func (e *Encoder) Facts(d Doc, fields map[string]any) Doc {
	labels, _ := d["labels"].(Doc)
	if labels == nil {
		labels = Doc{}
	}
	for k, v := range fields {
		if sigmaStandard[k] {
			continue
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case []string:
			s = strings.Join(v, " ")
		case bool:
			s = strconv.FormatBool(v)
		case int:
			s = strconv.Itoa(v)
		default:
			s = fmt.Sprint(v)
		}
		if s != "" {
			labels[snake(k)] = clean(s)
		}
	}
	if len(labels) > 0 {
		d["labels"] = labels
	}
	once(d)
	return d
}

// labelTwins names labels that repeat a fact under another label (the
// judgement's own name for what the rules' fields say per library).
var labelTwins = map[string]string{
	"findings":       "library_findings",
	"package_intact": "library_package_intact",
	"overrides":      "overridden_imports",
	"location_class": "library_location",
}

// once keeps each fact under one key: a label whose fact has an ECS field
// in the document (the library's path and hash in dll.*, the score in
// event.risk_score) or another label is left out, and file.* does not
// repeat the path dll.* names. Every byte is billed in the SIEM.
func once(d Doc) {
	labels, _ := d["labels"].(Doc)
	for twin, kept := range labelTwins {
		if _, ok := labels[kept]; ok {
			delete(labels, twin)
		}
	}
	if ev, ok := d["event"].(Doc); ok && ev["risk_score"] != nil {
		delete(labels, "risk_score")
	}
	dl, _ := d["dll"].(Doc)
	if dl == nil {
		return
	}
	if labels["library"] == dl["path"] {
		delete(labels, "library")
	}
	if h, ok := dl["hash"].(Doc); ok && labels["library_sha256"] == h["sha256"] {
		delete(labels, "library_sha256")
	}
	if f, ok := d["file"].(Doc); ok && f["path"] == dl["path"] {
		delete(f, "path")
		delete(f, "name")
	}
	if labels["loader_item"] == dl["path"] {
		delete(labels, "loader_item") // written as it resolved
	}
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
