package detect

import (
	"path/filepath"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
)

// What a credential program's own executable is, beside its name.
// An unreadable executable (or no judge) has no state: the field is absent.
const (
	ImagePackaged    = "packaged"         // its package's file, bytes intact
	ImageModified    = "package_modified" // its package's file, bytes changed (a patched binary in place)
	ImageCopy        = "copy_of_packaged" // elsewhere, the same bytes as the packaged program of its name
	ImageNotPackaged = "not_packaged"     // no package's file, and not a copy of one
)

// maxProgramVerdicts bounds the verdicts kept (one per executable).
const maxProgramVerdicts = 1024

// program is the verdict on a credential program's executable.
type program struct {
	state string
	// reference is the executable whose DT_NEEDED closure is the one to
	// expect: the program itself, or for a copy or another build, the
	// packaged program of the same name. A patched copy's own DT_NEEDED
	// list is the attacker's list: trusting it would hide the hook.
	reference string
}

// credentialProgram judges a credential program's executable (once per
// file version, like every judgement) and finds the packaged program of
// its name when it is not that program. seen is the executable's version
// when the kernel told it at exec (zero: the file is asked).
func (e *Engine) credentialProgram(exe string, seen ldso.Version) program {
	if e.cfg.Judge == nil || exe == "" {
		return program{reference: exe}
	}
	ver, err := e.version(exe, seen)
	if err != nil {
		return program{reference: exe}
	}
	k := closureKey{path: exe, v: ver}
	v, ok := e.programs.Get(k)
	if ok {
		return v
	}
	v = e.judgeProgram(exe)
	e.programs.Put(k, v)
	return v
}

func (e *Engine) judgeProgram(exe string) program {
	j := e.Judge(judge.Input{Path: exe})
	if j == nil || !j.Exists || j.SHA256 == "" {
		return program{reference: exe}
	}
	if j.Package != "" && j.Intact != nil {
		if *j.Intact {
			return program{state: ImagePackaged, reference: exe}
		}
		return program{state: ImageModified, reference: exe}
	}
	twin := e.packagedTwin(exe)
	if twin == nil {
		return program{state: ImageNotPackaged, reference: exe}
	}
	if twin.SHA256 == j.SHA256 {
		return program{state: ImageCopy, reference: twin.Path}
	}
	return program{state: ImageNotPackaged, reference: twin.Path}
}

// packagedTwin is the packaged, intact program of exe's name in the
// directories packages install programs into, or nil.
func (e *Engine) packagedTwin(exe string) *judge.Judgement {
	base := filepath.Base(exe)
	for _, dir := range rules.ProgramDirs {
		cand := filepath.Join(dir, base)
		if cand == exe {
			continue
		}
		if real, err := filepath.EvalSymlinks(cand); err != nil || real == exe {
			continue
		} else {
			cand = real
		}
		j := e.Judge(judge.Input{Path: cand})
		if j != nil && j.Exists && j.Package != "" && j.Intact != nil && *j.Intact {
			return j
		}
	}
	return nil
}
