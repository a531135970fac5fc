// Package ecs encodes hookwatch's events and alerts as Elastic Common Schema
// 9.4.0 documents, one JSON object per event.
package ecs

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// Version is the ECS version the documents follow.
const Version = "9.4.0"

// Doc is one ECS document: nested objects, as Elasticsearch stores them.
// An alias, so the output encoders walk plain maps.
type Doc = map[string]any

// Host identifies the machine and the sensor in every document.
type Host struct {
	Name    string
	ID      string // /etc/machine-id
	Version string // hookwatch's version
}

// Names resolves ids to user and group names.
type Names interface {
	User(uid uint32) (string, bool)
	Group(gid uint32) (string, bool)
}

// Encoder builds documents.
type Encoder struct {
	host   Host
	kernel string
	names  Names
	rules  *rules.Set
	now    func() time.Time
}

// New returns an encoder. rules supplies ATT&CK metadata for alerts.
func New(host Host, names Names, r *rules.Set) *Encoder {
	return &Encoder{host: host, kernel: kernelRelease(), names: names, rules: r, now: time.Now}
}

// Marshal encodes a document as one line of JSON.
func Marshal(d Doc) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding ECS document: %w", err)
	}
	return b, nil
}

func (e *Encoder) base(t time.Time, kind, dataset, action string, category, typ []string) Doc {
	return Doc{
		"@timestamp": ts(t),
		"ecs":        Doc{"version": Version},
		// The sensor once, as observer.* (agent.* said the same again);
		// event.dataset names hookwatch and the kind of event.
		"event": Doc{
			"kind":     kind,
			"category": category,
			"type":     typ,
			"action":   action,
			"id":       newID(),
			"dataset":  dataset,
		},
		"host":     Doc{"name": e.host.Name, "id": e.host.ID, "os": Doc{"type": "linux", "kernel": e.kernel}},
		"observer": Doc{"vendor": "hookwatch", "product": "hookwatch", "version": e.host.Version},
	}
}

// Exec encodes a process start that carried loader variables or flags.
func (e *Encoder) Exec(p, parent *proctable.Process, ex *event.Exec) Doc {
	d := e.base(ex.Time, "event", "hookwatch.process", "exec", []string{"process"}, []string{"start"})
	d["process"] = e.process(p, parent)
	if len(p.LoaderEnv) > 0 {
		d["message"] = clean(fmt.Sprintf("%s started with %s", p.Executable, strings.Join(p.LoaderEnv, " ")))
	} else {
		d["message"] = clean(p.Executable + " started")
	}
	if ex.FromSweep {
		d["event"].(Doc)["action"] = "running-at-start"
		d["event"].(Doc)["type"] = []string{"info"}
	}
	e.truncationLabels(d, p.ArgsTruncated, ex.EnvTruncated || ex.LoaderEnvTruncated, ex.PathTruncated)
	return d
}

// ImageLoad encodes a library mapped executable into a watched process.
func (e *Encoder) ImageLoad(p, parent *proctable.Process, il *event.ImageLoad, expected bool, location string, j *judge.Judgement) Doc {
	d := e.base(il.Time, "event", "hookwatch.library", "library-loaded", []string{"library"}, []string{"start"})
	d["process"] = e.process(p, parent)
	d["dll"] = dll(il.Path)
	d["file"] = fileDoc(il.Path, il.Dev, il.Ino, il.Size, il.Mode)
	d["message"] = clean(fmt.Sprintf("%s mapped executable into %s", il.Path, p.Executable))
	labels := Doc{"expected": strconv.FormatBool(expected), "location_class": location}
	if il.Deleted {
		labels["deleted"] = "true"
	}
	if il.Memfd {
		labels["memfd"] = "true"
	}
	if il.Mprotect {
		labels["via"] = "mprotect"
	}
	if il.FromSweep {
		labels["via"] = "startup-sweep"
	}
	d["labels"] = labels
	e.judgement(d, j, nil)
	return d
}

// judgement adds a library's verdict: hashes on dll and file, ownership on
// file and package, and the facts ECS has no field for as labels.
func (e *Encoder) judgement(d Doc, j *judge.Judgement, overrides []string) {
	if j == nil {
		return
	}
	labels, _ := d["labels"].(Doc)
	if labels == nil {
		labels = Doc{}
		d["labels"] = labels
	}
	if j.Err != "" {
		labels["judgement_error"] = clean(j.Err)
	}
	if !j.Exists {
		return
	}
	if j.SHA256 != "" {
		// SHA-256 for hunting and Sentinel's FileHash entity, SHA-1 for
		// Defender's column; MD5 adds nothing either lacks.
		h := Doc{"sha256": j.SHA256, "sha1": j.SHA1}
		dll, hasDll := d["dll"].(Doc)
		if hasDll {
			dll["hash"] = h
		}
		f, _ := d["file"].(Doc)
		if f == nil {
			f = Doc{"path": clean(j.Path), "name": clean(filepath.Base(j.Path))}
			d["file"] = f
		}
		if f["path"] != clean(j.Path) {
			return // file.* is about another file (the configuration that named it)
		}
		if !hasDll || dll["path"] != f["path"] {
			f["hash"] = h // else dll.hash is this file's
		}
		f["uid"] = strconv.FormatUint(uint64(j.UID), 10)
		f["gid"] = strconv.FormatUint(uint64(j.GID), 10)
		if n, ok := e.names.User(j.UID); ok {
			f["owner"] = n
		}
		if n, ok := e.names.Group(j.GID); ok {
			f["group"] = n
		}
		f["mode"] = fmt.Sprintf("%04o", uint32(j.Mode.Perm())|modeBits(j.Mode))
		f["size"] = j.Size
		if j.HashTruncated {
			labels["hash_truncated"] = "true"
		}
	}
	if j.Package != "" {
		typ := map[string]string{"dpkg": "deb", "rpm": "rpm"}[j.Manager]
		d["package"] = Doc{"name": clean(j.Package), "type": typ}
		if j.Intact != nil {
			labels["package_intact"] = strconv.FormatBool(*j.Intact)
		}
	} else if j.Manager != "" {
		labels["package_owned"] = "false"
	}
	if len(j.Interposed) > 0 {
		labels["interposed_symbols"] = clean(strings.Join(j.Interposed, " "))
	}
	if len(overrides) > 0 {
		labels["overrides"] = clean(strings.Join(overrides, " "))
	}
	if j.NonRootWritable != "" {
		labels["non_root_writable"] = clean(j.NonRootWritable)
	}
	var keys []string
	for _, f := range j.Findings {
		keys = append(keys, f.Key)
	}
	if len(keys) > 0 {
		labels["findings"] = strings.Join(keys, " ")
	}
}

func modeBits(m os.FileMode) uint32 {
	var b uint32
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// Alert encodes a detection: the event a rule matched, with the rule's
// metadata (rule.*, event.severity from its level, threat.* from its
// attack.* tags) and the event's evidence.
func (e *Encoder) Alert(p, parent *proctable.Process, a *detect.Alert) Doc {
	var category, typ []string
	switch a.Category {
	case ruleset.ImageLoad:
		category, typ = []string{"intrusion_detection", "library"}, []string{"info", "start"}
	case ruleset.FileEvent:
		category, typ = []string{"intrusion_detection", "file", "configuration"}, []string{"info", "change"}
	case ruleset.ProcessAccess:
		category, typ = []string{"intrusion_detection", "process"}, []string{"info", "access"}
	default:
		category, typ = []string{"intrusion_detection", "process"}, []string{"info", "start"}
	}
	r := a.Rule
	d := e.base(a.Time, "alert", "hookwatch.alert", r.Name, category, typ)
	ev := d["event"].(Doc)
	ev["severity"] = severityNumber(r.Level)
	ev["risk_score"] = float64(a.Score)
	ev["reason"] = clean(strings.Join(a.Reasons, "; "))
	if p != nil {
		d["process"] = e.process(p, parent)
	}
	if a.Category == ruleset.FileEvent {
		d["file"] = Doc{"path": clean(a.Target), "name": clean(filepath.Base(a.Target)), "directory": clean(filepath.Dir(a.Target)), "type": "file"}
	}
	set := "hookwatch"
	if !r.Builtin {
		set = "local"
	}
	// The rule by id, title and first reference: its description and
	// author are in the rule file (docs/rules.md lists the built-in ones),
	// not repeated in every alert.
	rd := Doc{"id": r.ID, "name": clean(r.Title), "ruleset": set, "category": a.Category}
	if len(r.References) > 0 {
		rd["reference"] = clean(r.References[0])
	}
	d["rule"] = rd
	if t := e.threat(r.Techniques(), r.Tactics()); t != nil {
		d["threat"] = t
	}
	if len(a.Libraries) > 0 {
		// The first library with a judgement is the one the alert shows
		// in dll.* and file.*; labels.library names them all.
		lib := a.Libraries[0]
		for _, l := range a.Libraries {
			if l.Judgement != nil && l.Judgement.Exists {
				lib = l
				break
			}
		}
		d["dll"] = dll(lib.Path)
		if lib.Ino != 0 && d["file"] == nil {
			d["file"] = fileDoc(lib.Path, lib.Dev, lib.Ino, lib.Size, 0)
		}
		e.judgement(d, lib.Judgement, lib.Overrides)
	}
	// The facts (labels, from the event's fields) name the target and the
	// libraries; the rule's name is event.action, the reasons event.reason.
	labels, _ := d["labels"].(Doc)
	if labels == nil {
		labels = Doc{}
	}
	labels["severity_level"] = r.Level
	if r.File != "" && !r.Builtin {
		labels["rule_file"] = clean(r.File)
	}
	d["labels"] = labels
	d["message"] = clean(fmt.Sprintf("%s [%s, score %d]: %s", r.Title, r.Level, a.Score, filepath.Base(a.Target)))
	d = e.Facts(d, a.Fields)
	alertFacts(d["labels"].(Doc))
	leanAlert(d)
	return d
}

// sigmaStandard are the Sigma taxonomy fields ECS already carries in its
// own fields (process.*, dll.*, file.*).
var sigmaStandard = map[string]bool{
	"Image": true, "CommandLine": true, "ProcessId": true, "User": true, "UserId": true,
	"ParentProcessId": true, "ParentImage": true, "ParentCommandLine": true,
	"ImageLoaded": true, "TargetFilename": true, "Hashes": true,
	"SourceImage": true, "SourceCommandLine": true, "SourceProcessId": true, "SourceUser": true, "SourceUserId": true,
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

// leanAlert leaves out of an alert what identifies rather than informs,
// and what the telemetry of the same process already holds: an alert is a
// ticket and every byte of it is billed. SHA-256 names the file (SHA-1 is
// in the library's telemetry), tactics by id, the rule by id and title, the
// host without its kernel, users and files by name, techniques by the
// sub-technique's name.
func leanAlert(d Doc) {
	if dl, ok := d["dll"].(Doc); ok {
		if h, ok := dl["hash"].(Doc); ok {
			delete(h, "sha1")
		}
	}
	if f, ok := d["file"].(Doc); ok {
		if _, named := f["owner"]; named {
			delete(f, "uid")
		}
		if _, named := f["group"]; named {
			delete(f, "gid")
		}
	}
	if h, ok := d["host"].(Doc); ok {
		if o, ok := h["os"].(Doc); ok {
			delete(o, "kernel")
		}
	}
	if t, ok := d["threat"].(Doc); ok {
		if ta, ok := t["tactic"].(Doc); ok {
			delete(ta, "name")
		}
		if te, ok := t["technique"].(Doc); ok && te["subtechnique"] != nil {
			delete(te, "name") // the sub-technique's name says it
		}
	}
	if r, ok := d["rule"].(Doc); ok {
		delete(r, "reference")
	}
	if p, ok := d["process"].(Doc); ok {
		delete(p, "group")
		if pp, ok := p["parent"].(Doc); ok {
			delete(pp, "user")
			if pp["entity_id"] == "" {
				delete(pp, "entity_id")
			}
		}
		// process.env_vars is the loader variables and what they name,
		// as written: the same facts as loader_variable and loader_item
		// (kept when the loader's own flags named items too).
		if _, ok := p["env_vars"]; ok {
			if labels, ok := d["labels"].(Doc); ok && labels["loader_flag"] == nil {
				delete(labels, "loader_variable")
				delete(labels, "loader_item")
			}
		}
	}
	if o, ok := d["observer"].(Doc); ok {
		delete(o, "product")
	}
}

// alertFacts leaves out of an alert the facts that are false: the rule
// that fired decided on them, and an absent fact reads as false.
func alertFacts(labels Doc) {
	for k, v := range labels {
		if v == "false" {
			delete(labels, k)
		}
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

func (e *Encoder) process(p, parent *proctable.Process) Doc {
	// user and group are the effective ones; real_* only when they differ
	// (a set-user-ID program), as ECS means them.
	d := Doc{
		"pid":        int64(p.PID),
		"entity_id":  p.EntityID,
		"executable": clean(p.Executable),
		"name":       clean(p.Name),
		"user":       e.user(p.EUID),
		"group":      e.group(p.EGID),
	}
	if p.EUID != p.UID {
		d["real_user"] = e.user(p.UID)
	}
	if p.EGID != p.GID {
		d["real_group"] = e.group(p.GID)
	}
	if !p.Start.IsZero() {
		d["start"] = ts(p.Start)
	}
	if len(p.Args) > 0 {
		args := cleanAll(p.Args)
		d["command_line"] = strings.Join(args, " ")
		// args only when the command line cannot tell where one ends.
		if slices.ContainsFunc(args, func(a string) bool { return a == "" || strings.ContainsAny(a, " \t") }) {
			d["args"] = args
		}
	}
	if len(p.LoaderEnv) > 0 {
		d["env_vars"] = cleanAll(p.LoaderEnv)
	}
	if parent != nil {
		pd := Doc{"pid": int64(parent.PID), "entity_id": parent.EntityID, "executable": clean(parent.Executable)}
		if len(parent.Args) > 0 {
			pd["command_line"] = strings.Join(cleanAll(parent.Args), " ")
		}
		pd["user"] = e.user(parent.EUID)
		d["parent"] = pd
	} else if p.PPID != 0 {
		d["parent"] = Doc{"pid": int64(p.PPID)}
	}
	return d
}

func (e *Encoder) user(uid uint32) Doc {
	d := Doc{"id": strconv.FormatUint(uint64(uid), 10)}
	if n, ok := e.names.User(uid); ok {
		d["name"] = n
	}
	return d
}

func (e *Encoder) group(gid uint32) Doc {
	d := Doc{"id": strconv.FormatUint(uint64(gid), 10)}
	if n, ok := e.names.Group(gid); ok {
		d["name"] = n
	}
	return d
}

// threat maps a rule's ATT&CK tags onto threat.*: each technique named
// from the rules' technique table (its parent and tactics with it), and
// tactics the tags name that no technique brings.
func (e *Encoder) threat(ids, tacticTags []string) Doc {
	if len(ids) == 0 && len(tacticTags) == 0 {
		return nil
	}
	var tacticID, tacticName, tacticRef, techID, techName, techRef, subID, subName, subRef []string
	seenTactic := map[string]bool{}
	addTactic := func(ta rules.Ref) {
		if !seenTactic[ta.ID] {
			seenTactic[ta.ID] = true
			tacticID, tacticName, tacticRef = append(tacticID, ta.ID), append(tacticName, ta.Name), append(tacticRef, ta.Reference)
		}
	}
	for _, id := range ids {
		t := e.rules.Techniques[id]
		if t == nil {
			// A technique hookwatch has no name for (a user's rule):
			// the id and its page are still right.
			main, sub, isSub := strings.Cut(id, ".")
			if isSub {
				techID, techName, techRef = append(techID, main), append(techName, ""), append(techRef, attackURL(main))
				subID, subName, subRef = append(subID, id), append(subName, ""), append(subRef, attackURL(main)+sub+"/")
			} else {
				techID, techName, techRef = append(techID, id), append(techName, ""), append(techRef, attackURL(id))
			}
			continue
		}
		if t.Parent != nil {
			techID, techName, techRef = append(techID, t.Parent.ID), append(techName, t.Parent.Name), append(techRef, t.Parent.Reference)
			subID, subName, subRef = append(subID, id), append(subName, t.Name), append(subRef, t.Reference)
		} else {
			techID, techName, techRef = append(techID, id), append(techName, t.Name), append(techRef, t.Reference)
		}
		for _, ta := range t.Tactics {
			addTactic(ta)
		}
	}
	for _, name := range tacticTags {
		if ta, ok := e.rules.Tactics[name]; ok {
			addTactic(rules.Ref{ID: ta.ID, Name: ta.Name, Reference: ta.Reference})
		}
	}
	// Ids and names only: each reference is the id's ATT&CK page, and
	// three arrays of URLs were a fifth of an alert's bytes.
	_, _, _ = tacticRef, techRef, subRef
	d := Doc{"framework": "MITRE ATT&CK"}
	if len(tacticID) > 0 {
		d["tactic"] = Doc{"id": tacticID, "name": tacticName}
	}
	if len(techID) > 0 {
		tech := Doc{"id": techID, "name": techName}
		if len(subID) > 0 {
			tech["subtechnique"] = Doc{"id": subID, "name": subName}
		}
		d["technique"] = tech
	}
	return d
}

func attackURL(id string) string { return "https://attack.mitre.org/techniques/" + id + "/" }

func (e *Encoder) truncationLabels(d Doc, args, env, path bool) {
	l := Doc{}
	if args {
		l["args_truncated"] = "true"
	}
	if env {
		l["env_truncated"] = "true"
	}
	if path {
		l["path_truncated"] = "true"
	}
	if len(l) > 0 {
		d["labels"] = l
	}
}

func dll(path string) Doc {
	return Doc{"path": clean(path)} // its name is the path's last element
}

func fileDoc(path string, dev, ino uint64, size int64, mode uint32) Doc {
	d := Doc{
		"path": clean(path), "name": clean(filepath.Base(path)), "directory": clean(filepath.Dir(path)),
		"inode": strconv.FormatUint(ino, 10), "device": fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)),
		"type": "file",
	}
	if size > 0 {
		d["size"] = size
	}
	if mode != 0 {
		d["mode"] = fmt.Sprintf("%04o", mode&0o7777)
	}
	return d
}

// severityNumber maps levels onto the numbers Elastic's detection rules use.
func severityNumber(level string) int64 {
	switch level {
	case "informational":
		return 0
	case "critical":
		return 99
	case "high":
		return 73
	case "medium":
		return 47
	}
	return 21
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clean makes a string safe for a keyword field (format.Clean).
func clean(s string) string { return format.Clean(s) }

func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}
