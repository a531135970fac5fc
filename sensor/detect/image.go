package detect

import (
	"fmt"
	"path/filepath"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// ImageLoad builds the image_load event of a file mapped executable into
// process p: whether its loader would have loaded it (the expected set),
// and, for a credential process or a library its loader would not load,
// the library's judgement. A library already seen in p returns repeat. start
// and end bound the live mapping, for reading deleted and memory-backed
// files.
func (e *Engine) ImageLoad(p, parent *proctable.Process, il *event.ImageLoad, start, end uint64) (ev *Event, j *judge.Judgement, expected, repeat bool) {
	key := il.Path
	if il.Deleted || il.Memfd {
		key = fmt.Sprintf("%s\x00%d:%d", il.Path, il.Dev, il.Ino)
	}
	s := e.stateOf(p, parent)
	if !s.firstJudging(key) {
		return nil, nil, false, true
	}

	id := ldso.FileID{Dev: il.Dev, Ino: il.Ino}
	// The loader run directly (ldd does) loads the program it is given:
	// that program's closure is what to expect.
	exe := p.Executable
	if e.rules.IsLoader(filepath.Base(exe)) {
		if inv := ldso.ParseInvocation(p.Args); inv.Program != "" {
			exe = inv.Program
		}
	}
	var unknown string
	onPurpose := false
	if !il.Deleted && !il.Memfd {
		if s.expected == nil {
			ref := exe
			if p.Credential {
				ref = e.credentialProgram(exe, seenAs(exe, p.Executable, s.exe)).reference
			}
			c, err := e.closure(ref, seenAs(ref, p.Executable, s.exe))
			if err != nil {
				unknown = fmt.Sprintf("expected set unknown: %v", err)
				c = emptyClosure()
			}
			s.expected = c
		}
		if s.extra == nil {
			s.extra = emptyClosure()
		}
		switch {
		case il.Path == p.Executable || il.Path == exe || s.expected.Contains(il.Path, id) || s.extra.Contains(il.Path, id):
			expected = true
		case e.expectedFamily(il.Path):
			expected = true
			// What a PAM or NSS module needs comes with it.
			e.addExtra(s, il.Path)
		case p.Credential:
			onPurpose = e.purposes.onPurpose(p, il.Path)
		}
	}

	lib := Library{
		Path: il.Path, Kind: ldso.Preload, Source: "mmap", Deleted: il.Deleted, Memfd: il.Memfd,
		Dev: il.Dev, Ino: il.Ino, Size: il.Version.Size,
	}
	switch {
	case il.FromSweep:
		lib.Source = "/proc/PID/maps"
	case il.Mprotect:
		lib.Source = "mprotect"
	}
	lib.Location = e.rules.LocationClass(il.Path, il.Deleted, il.Memfd)
	ev = e.newEvent(ruleset.ImageLoad, il.Time, p.Executable, p.Credential)
	e.processFields(ev.Fields, p, parent)
	ev.Fields["ImageLoaded"] = il.Path
	ev.Fields["LoadedVia"] = lib.Source

	w := 0
	if p.Credential || !expected {
		w = e.judgeInto(&lib, judge.Mapped(il, start, end), p.Executable, ev)
	}
	ev.Libraries = []Library{lib}
	j = lib.Judgement
	if onPurpose && j != nil && j.Exists && j.Package != "" && j.Intact != nil && *j.Intact {
		// Its configuration or command line names it and its package
		// vouches for the bytes: sudo's sudoers.so, a packaged PKCS#11
		// provider. What it needs comes with it.
		expected = true
		e.addExtra(s, il.Path)
	}
	ev.Fields["Expected"] = expected
	if expected {
		if j != nil && (j.Has(rules.FindingPackageModified) || j.Has(rules.FindingSymlinkRetargeted) || j.Has(rules.FindingUnownedInSystemDir)) {
			ev.Reasons = append([]string{fmt.Sprintf("%s, loaded by %s under its usual name, is not what its package shipped", il.Path, filepath.Base(p.Executable))}, ev.Reasons...)
			e.score(ev, e.rules.Scoring.Location[lib.Location]+w)
		}
	} else {
		lead := []string{fmt.Sprintf("%s mapped executable into %s, which its loader would not load (%s)", il.Path, filepath.Base(p.Executable), lib.Location)}
		if il.Deleted {
			lead = append(lead, "the file was deleted")
		}
		if il.Memfd {
			lead = append(lead, "the file is memory-backed (memfd)")
		}
		if unknown != "" {
			lead = append(lead, unknown)
		}
		ev.Reasons = append(lead, ev.Reasons...)
		e.score(ev, e.rules.Scoring.Location[lib.Location]+w)
	}
	e.libraryFields(ev)
	if ev.Libraries[0].Trust == TrustAllowlisted && !expected && !il.Deleted && !il.Memfd {
		e.addExtra(s, il.Path)
	}
	if j != nil && j.Hashes != "" {
		ev.Fields["Hashes"] = j.Hashes
	}
	return ev, j, expected, false
}
