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
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// Version is the ECS version the documents follow.
const Version = "9.4.0"

// Doc is one document, typed: the observation the encoders read.
type Doc = observation.Observation

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
	// falseTested are the facts written when false; other false facts
	// are left out (absent reads as false).
	falseTested map[string]bool
	// reads are the fields the rules read, by category (ruleset.Set.Reads).
	reads map[string]map[string]bool
	now   func() time.Time
	// labelKeys remembers label keys by field name (the agent's
	// goroutine and tests may encode at once).
	labelKeys sync.Map
	threats   sync.Map // *ruleset.Rule to its *observation.Threat
}

// New returns an encoder. rules supplies ATT&CK metadata for alerts; sigma
// (nil: none) says which facts the rules in force read, and which they
// compare with false, so that telemetry leaves out only what no rule needs.
func New(host Host, names Names, r *rules.Set, sigma *ruleset.Set) *Encoder {
	e := &Encoder{host: host, kernel: kernelRelease(), names: names, rules: r, now: time.Now}
	if sigma != nil {
		e.falseTested, e.reads = sigma.FalseTested(), sigma.Reads()
	}
	return e
}

// Marshal encodes a document as one line of JSON.
func Marshal(d *Doc) ([]byte, error) {
	b, err := format.ECS{}.Encode(d)
	if err != nil {
		return nil, fmt.Errorf("encoding ECS document: %w", err)
	}
	return b, nil
}

func (e *Encoder) base(t time.Time, kind, dataset, action string, category, typ []string) *Doc {
	// The sensor once, as observer.* (agent.* said the same again);
	// event.dataset names hookwatch and the kind of event.
	return &Doc{
		Timestamp: ts(t), Time: t,
		ECS:      observation.ECS{Version: Version},
		Event:    observation.Event{Kind: kind, Category: category, Type: typ, Action: action, ID: newID(), Dataset: dataset},
		Host:     observation.Host{Name: e.host.Name, ID: e.host.ID, OS: observation.OS{Type: "linux", Kernel: e.kernel}},
		Observer: observation.Observer{Vendor: "hookwatch", Product: "hookwatch", Version: e.host.Version},
	}
}

// kinds are the event.category and event.type lists documents name,
// made once and shared: nothing changes them (a copy is a Clone).
var kinds = struct {
	process, library, alertProcess, alertLibrary, alertFile []string
	start, access, info, infoStart, infoChange, infoAccess  []string
}{
	process: []string{"process"}, library: []string{"library"},
	alertProcess: []string{"intrusion_detection", "process"}, alertLibrary: []string{"intrusion_detection", "library"},
	alertFile: []string{"intrusion_detection", "file", "configuration"},
	start:     []string{"start"}, access: []string{"access"}, info: []string{"info"},
	infoStart: []string{"info", "start"}, infoChange: []string{"info", "change"}, infoAccess: []string{"info", "access"},
}

// Exec encodes a process start that carried loader variables or flags.
func (e *Encoder) Exec(sh *Shared, p, parent *proctable.Process, ex *event.Exec) *Doc {
	d := e.base(ex.Time, observation.KindEvent, observation.DatasetProcess, "exec", kinds.process, kinds.start)
	e.subject(d, sh, p, parent)
	if len(p.LoaderEnv) > 0 {
		d.Message = clean(fmt.Sprintf("%s started with %s", p.Executable, strings.Join(p.LoaderEnv, " ")))
	} else {
		d.Message = clean(p.Executable + " started")
	}
	if ex.FromSweep {
		d.Event.Action, d.Event.Type = "running-at-start", kinds.info
	}
	if p.ArgsTruncated {
		label(d, "args_truncated", "true")
	}
	if ex.EnvTruncated || ex.LoaderEnvTruncated {
		label(d, "env_truncated", "true")
	}
	if ex.PathTruncated {
		label(d, "path_truncated", "true")
	}
	return d
}

// ImageLoad encodes a library mapped executable into a watched process.
func (e *Encoder) ImageLoad(sh *Shared, p, parent *proctable.Process, il *event.ImageLoad, j *judge.Judgement) *Doc {
	d := e.base(il.Time, observation.KindEvent, observation.DatasetLibrary, "library-loaded", kinds.library, kinds.start)
	e.subject(d, sh, p, parent)
	d.Dll = &observation.Dll{Path: clean(il.Path)} // its name is the path's last element
	d.File = fileDoc(il.Path, il.Dev, il.Ino, il.Version.Size, il.Mode)
	d.Message = clean(fmt.Sprintf("%s mapped executable into %s", il.Path, p.Executable))
	// Where the library lives and whether it was expected are facts
	// (library_location, expected): labels from Facts.
	if il.Deleted {
		label(d, "deleted", "true")
	}
	if il.Memfd {
		label(d, "memfd", "true")
	}
	// How it was seen (mmap, mprotect, the startup sweep) is the fact
	// loaded_via.
	e.judgement(d, j)
	return d
}

// label sets one label.
func label(d *Doc, k, v string) { d.Labels.Set(k, v) }

// judgement adds a library's verdict: hashes on dll and file, ownership on
// file and package. Its findings, whether its package is intact and the
// imports it overrides are the rules' facts (library_findings,
// library_package_intact, overridden_imports): labels from Facts, not
// computed here a second time.
func (e *Encoder) judgement(d *Doc, j *judge.Judgement) {
	if j == nil {
		return
	}
	if j.Err != "" {
		label(d, "judgement_error", clean(j.Err))
	}
	if !j.Exists {
		return
	}
	if j.SHA256 != "" {
		// SHA-256 for hunting and Sentinel's FileHash entity, SHA-1 for
		// Defender's column; MD5 adds nothing either lacks.
		h := &observation.Hash{SHA256: j.SHA256, SHA1: j.SHA1}
		if d.Dll != nil {
			d.Dll.Hash = h
		}
		path := clean(j.Path)
		if d.File == nil {
			d.File = &observation.File{Path: path, Name: clean(filepath.Base(j.Path))}
		}
		f := d.File
		if f.Path != path {
			return // file.* is about another file (the configuration that named it)
		}
		if d.Dll == nil || d.Dll.Path != f.Path {
			f.Hash = &observation.Hash{SHA256: j.SHA256, SHA1: j.SHA1} // else dll.hash is this file's
		}
		f.UID = strconv.FormatUint(uint64(j.UID), 10)
		f.GID = strconv.FormatUint(uint64(j.GID), 10)
		if n, ok := e.names.User(j.UID); ok {
			f.Owner = n
		}
		if n, ok := e.names.Group(j.GID); ok {
			f.Group = n
		}
		f.Mode = fmt.Sprintf("%04o", uint32(j.Mode.Perm())|modeBits(j.Mode))
		f.Size = observation.Int64(j.Size)
		if j.HashTruncated {
			label(d, "hash_truncated", "true")
		}
	}
	if j.Package != "" {
		typ := map[string]string{"dpkg": "deb", "rpm": "rpm"}[j.Manager]
		d.Package = &observation.Package{Name: clean(j.Package), Type: typ}
	} else if j.Manager != "" {
		label(d, "package_owned", "false")
	}
	if len(j.Interposed) > 0 {
		label(d, "interposed_symbols", clean(strings.Join(j.Interposed, " ")))
	}
	if j.NonRootWritable != "" {
		label(d, "non_root_writable", clean(j.NonRootWritable))
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
func (e *Encoder) process(p, parent *proctable.Process) *observation.Process {
	// user and group are the effective ones; real_* only when they differ
	// (a set-user-ID program), as ECS means them.
	d := &observation.Process{
		PID:        int64(p.PID),
		EntityID:   p.EntityID,
		Executable: clean(p.Executable),
		Name:       clean(p.Name),
		User:       e.user(p.EUID),
		Group:      e.group(p.EGID),
	}
	if p.EUID != p.UID {
		d.RealUser = e.user(p.UID)
	}
	if p.EGID != p.GID {
		d.RealGroup = e.group(p.GID)
	}
	if !p.Start.IsZero() {
		d.Start = ts(p.Start)
	}
	if len(p.Args) > 0 {
		d.CommandLine = clean(p.CommandLine())
		// args only when the command line cannot tell where one ends.
		if slices.ContainsFunc(p.Args, func(a string) bool { return a == "" || strings.ContainsAny(a, " \t") }) {
			d.Args = cleanAll(p.Args)
		}
	}
	if len(p.LoaderEnv) > 0 {
		d.EnvVars = cleanAll(p.LoaderEnv)
	}
	if parent != nil {
		pd := &observation.Process{PID: int64(parent.PID), EntityID: parent.EntityID, Executable: clean(parent.Executable)}
		pd.CommandLine = clean(parent.CommandLine())
		pd.User = e.user(parent.EUID)
		d.Parent = pd
	} else if p.PPID != 0 {
		d.Parent = &observation.Process{PID: int64(p.PPID)}
	}
	return d
}

func (e *Encoder) user(uid uint32) *observation.ID {
	d := &observation.ID{ID: strconv.FormatUint(uint64(uid), 10)}
	if n, ok := e.names.User(uid); ok {
		d.Name = n
	}
	return d
}

func (e *Encoder) group(gid uint32) *observation.ID {
	d := &observation.ID{ID: strconv.FormatUint(uint64(gid), 10)}
	if n, ok := e.names.Group(gid); ok {
		d.Name = n
	}
	return d
}

func fileDoc(path string, dev, ino uint64, size int64, mode uint32) *observation.File {
	d := &observation.File{
		Path: clean(path), Name: clean(filepath.Base(path)), Directory: clean(filepath.Dir(path)),
		Inode: strconv.FormatUint(ino, 10), Device: fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)),
		Type: "file",
	}
	if size > 0 {
		d.Size = observation.Int64(size)
	}
	if mode != 0 {
		d.Mode = fmt.Sprintf("%04o", mode&0o7777)
	}
	return d
}

// ts is t as ECS timestamps are written, 2006-01-02T15:04:05.000000000Z,
// digit by digit: time.Format parses its layout on every call, and each
// document has two.
func ts(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.Format("2006-01-02T15:04:05.000000000Z") // not four digits
	}
	var b [30]byte
	put := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, year)
	put(5, 2, int(month))
	put(8, 2, day)
	put(11, 2, hour)
	put(14, 2, min)
	put(17, 2, sec)
	put(20, 9, t.Nanosecond())
	b[4], b[7], b[10], b[13], b[16], b[19], b[29] = '-', '-', 'T', ':', ':', '.', 'Z'
	return string(b[:])
}

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
