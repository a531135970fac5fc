// Package ecs encodes hookwatch's events and alerts as Elastic Common Schema
// 9.4.0 documents, one JSON object per event.
package ecs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/proctable"
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
	b, err := format.MarshalDoc(d)
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
	e.subject(d, p, parent)
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
	e.subject(d, p, parent)
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

// subject sets the process a document is about, and its container: ECS's
// container.* is the document's, as the process's is.
func (e *Encoder) subject(d Doc, p, parent *proctable.Process) {
	d["process"] = e.process(p, parent)
	if c := p.Container; c.ID != "" {
		cd := Doc{"id": c.ID, "runtime": c.Runtime}
		if c.Image != "" {
			cd["image"] = Doc{"name": clean(c.Image)}
		}
		d["container"] = cd
	}
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
