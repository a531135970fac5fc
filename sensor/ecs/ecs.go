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
		"event": Doc{
			"kind":     kind,
			"category": category,
			"type":     typ,
			"action":   action,
			"id":       newID(),
			"module":   "hookwatch",
			"dataset":  dataset,
			"provider": "hookwatch",
			"created":  ts(e.now()),
		},
		"host": Doc{"name": e.host.Name, "hostname": e.host.Name, "id": e.host.ID, "os": Doc{"type": "linux", "kernel": e.kernel}},
		"observer": Doc{
			"type": "sensor", "vendor": "hookwatch", "product": "hookwatch",
			"version": e.host.Version, "hostname": e.host.Name,
		},
		"agent": Doc{"type": "hookwatch", "version": e.host.Version, "name": e.host.Name},
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
		h := Doc{"sha256": j.SHA256, "sha1": j.SHA1, "md5": j.MD5}
		if dll, ok := d["dll"].(Doc); ok {
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
		f["hash"] = Doc{"sha256": j.SHA256, "sha1": j.SHA1, "md5": j.MD5}
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
	ev["risk_score_norm"] = float64(a.Score)
	ev["reason"] = clean(strings.Join(a.Reasons, "; "))
	if len(r.References) > 0 {
		ev["reference"] = r.References[0]
	}
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
	rd := Doc{
		"id": r.ID, "uuid": r.ID, "name": clean(r.Title), "description": clean(strings.TrimSpace(r.Description)),
		"ruleset": set, "category": a.Category,
	}
	if len(r.References) > 0 {
		rd["reference"] = clean(r.References[0])
	}
	if r.Author != "" {
		rd["author"] = []string{clean(r.Author)}
	}
	d["rule"] = rd
	if t := e.threat(r.Techniques(), r.Tactics()); t != nil {
		d["threat"] = t
	}
	if len(a.Libraries) > 0 {
		// The first library with a judgement is the one the alert shows
		// in dll.* and file.*; labels.libraries names them all.
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
		defer e.judgement(d, lib.Judgement, lib.Overrides)
	}
	var libs, locs []string
	for _, l := range a.Libraries {
		libs = append(libs, clean(l.Path))
		locs = append(locs, l.Location)
	}
	labels := Doc{"severity_level": r.Level, "target": clean(a.Target), "rule_name": clean(r.Name)}
	if len(libs) > 0 {
		labels["libraries"], labels["location_class"] = strings.Join(libs, " "), strings.Join(locs, " ")
	}
	if r.File != "" && !r.Builtin {
		labels["rule_file"] = clean(r.File)
	}
	d["labels"] = labels
	d["message"] = clean(fmt.Sprintf("%s [%s, score %d]: %s", r.Title, r.Level, a.Score, strings.Join(a.Reasons, "; ")))
	return e.Facts(d, a.Fields)
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
	return d
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
	d := Doc{
		"pid":        int64(p.PID),
		"entity_id":  p.EntityID,
		"executable": clean(p.Executable),
		"name":       clean(p.Name),
		"user":       e.user(p.UID),
		"real_user":  e.user(p.UID),
		"group":      e.group(p.GID),
		"real_group": e.group(p.GID),
	}
	if p.EUID != p.UID {
		d["user"] = e.user(p.EUID)
	}
	if p.EGID != p.GID {
		d["group"] = e.group(p.EGID)
	}
	if !p.Start.IsZero() {
		d["start"] = ts(p.Start)
	}
	if len(p.Args) > 0 {
		args := cleanAll(p.Args)
		d["args"] = args
		d["args_count"] = int64(len(args))
		d["command_line"] = strings.Join(args, " ")
	}
	if len(p.LoaderEnv) > 0 {
		d["env_vars"] = cleanAll(p.LoaderEnv)
	}
	if parent != nil {
		pd := Doc{"pid": int64(parent.PID), "entity_id": parent.EntityID, "executable": clean(parent.Executable), "name": clean(parent.Name)}
		if len(parent.Args) > 0 {
			args := cleanAll(parent.Args)
			pd["args"] = args
			pd["command_line"] = strings.Join(args, " ")
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
	d := Doc{"framework": "MITRE ATT&CK"}
	if len(tacticID) > 0 {
		d["tactic"] = Doc{"id": tacticID, "name": tacticName, "reference": tacticRef}
	}
	if len(techID) > 0 {
		tech := Doc{"id": techID, "name": techName, "reference": techRef}
		if len(subID) > 0 {
			tech["subtechnique"] = Doc{"id": subID, "name": subName, "reference": subRef}
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
	return Doc{"path": clean(path), "name": clean(filepath.Base(path))}
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
