package detect

import (
	"strconv"

	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// The fields every event carries, named as in Sigma's Linux taxonomy, and
// hookwatch's own facts (docs/rules.md lists them all). List-valued fields
// hold one value per library; a rule matches when any value does.

// processFields sets the fields of the process an event is about.
func (e *Engine) processFields(f map[string]any, p, parent *proctable.Process) {
	if p == nil {
		return
	}
	f["Image"] = p.Executable
	f["CommandLine"] = p.CommandLine()
	f["ProcessId"] = int(p.PID)
	f["User"] = e.userName(p.EUID)
	f["UserId"] = int(p.EUID)
	f["ParentProcessId"] = int(p.PPID)
	setString(f, "ContainerId", p.Container.ID)
	setString(f, "ContainerImage", p.Container.Image)
	if parent != nil {
		f["ParentImage"] = parent.Executable
		f["ParentCommandLine"] = parent.CommandLine()
	}
}

func (e *Engine) userName(uid uint32) string {
	if e.cfg.Names != nil {
		if n, ok := e.cfg.Names.User(uid); ok {
			return n
		}
	}
	return strconv.FormatUint(uint64(uid), 10)
}

// libraryFields sets the facts of the event's libraries: where they live,
// what vouches for them, what their judgement found.
func (e *Engine) libraryFields(ev *Event) {
	var paths, kinds, values, locs, pkgs, intact, findings, interposed, overrides, hashes, allow []string
	trust := ""
	for i := range ev.Libraries {
		l := &ev.Libraries[i]
		kinds = append(kinds, string(l.Kind))
		locs = append(locs, l.Location)
		if l.Value != "" {
			values = append(values, l.Value)
		}
		if l.Kind == ldso.SearchDir || l.Kind == "include" || l.Kind == "environmentfile" || l.Kind == loaderconf.KindPAMExecAuthtok {
			continue // a directory, a file of settings or a program, not a library
		}
		paths = append(paths, l.Path)
		l.Trust = e.trustOf(l)
		if trust == "" || trustRank[l.Trust] > trustRank[trust] {
			trust = l.Trust
		}
		if j := l.Judgement; j != nil && j.Exists {
			if j.Package != "" {
				pkgs = append(pkgs, j.Package)
			}
			if j.Intact != nil {
				intact = append(intact, strconv.FormatBool(*j.Intact))
			}
			for _, fd := range j.Findings {
				findings = append(findings, fd.Key)
			}
			interposed = append(interposed, j.Interposed...)
			if j.SHA256 != "" {
				hashes = append(hashes, j.SHA256)
			}
		}
		if len(l.Overrides) > 0 {
			findings = append(findings, "overrides_target_imports")
		}
		overrides = append(overrides, l.Overrides...)
		if l.Allowlist != "" {
			allow = append(allow, l.Allowlist)
		}
	}
	f := ev.Fields
	setList(f, "LoaderItem", values)
	setList(f, "LoaderItemKind", kinds)
	setList(f, "Library", paths)
	setList(f, "LibraryLocation", locs)
	setList(f, "LibraryPackage", pkgs)
	setList(f, "LibraryPackageIntact", intact)
	setList(f, "LibraryFindings", findings)
	setList(f, "InterposedSymbols", interposed)
	setList(f, "OverriddenImports", overrides)
	setList(f, "LibrarySHA256", hashes)
	setList(f, "AllowlistName", allow)
	if trust != "" {
		f["LibraryTrust"] = trust
	}
}

// trustOf classes one library: untrusted where anyone can plant it (or
// nowhere on disk), allowlisted when an entry vouches for its path and
// bytes, packaged when a package owns it intact, else unvouched.
func (e *Engine) trustOf(l *Library) string {
	if e.rules.IsUntrustedLocation(l.Location) {
		return TrustUntrusted
	}
	if en := e.cfg.Allow.Match(l.Judgement); en != nil {
		l.Allowlist = en.Name
		return TrustAllowlisted
	}
	if j := l.Judgement; j != nil && j.Exists && j.Package != "" && j.Intact != nil && *j.Intact {
		return TrustPackaged
	}
	return TrustUnvouched
}

// setList sets a list field only when it has values: an absent field is
// what Sigma's `null` matches, an empty list would match nothing.
func setList(f map[string]any, key string, vals []string) {
	if len(vals) > 0 {
		f[key] = vals
	}
}

// setString sets a string field only when it is not empty, for the same
// reason.
func setString(f map[string]any, key, val string) {
	if val != "" {
		f[key] = val
	}
}
