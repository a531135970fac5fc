package detect

// A library's judgement in an event: the judge's verdict, the target's
// imports it would override, and the weight they add.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/judge"
)

type overrideKey struct {
	j      *judge.Judgement
	target string
}

// maxOverrides bounds the remembered comparisons (cleared when full).
const maxOverrides = 4096

// judgeInto judges a library into lib, adds its findings to the event's
// reasons, and returns the weight they add.
func (e *Engine) judgeInto(lib *Library, in judge.Input, target string, ev *Event) int {
	if e.cfg.Judge == nil {
		return 0
	}
	j := e.cfg.Judge.Judge(context.Background(), in)
	lib.Judgement = j
	if !j.Exists {
		return 0
	}
	if target == "" {
		// No one target (a preload list reaches every program).
	} else {
		lib.Overrides = e.overridesOf(j, target)
	}
	w := j.Score()
	for _, f := range j.Findings {
		ev.Reasons = append(ev.Reasons, f.Text)
	}
	if len(lib.Overrides) > 0 {
		w += e.rules.Judgement.Weights[rules.FindingOverridesImports]
		ev.Reasons = append(ev.Reasons, fmt.Sprintf("would override %s imported by %s", strings.Join(lib.Overrides, ", "), filepath.Base(target)))
	}
	return w
}

// overridesOf lists the target's imported functions the library defines.
func (e *Engine) overridesOf(j *judge.Judgement, target string) []string {
	k := overrideKey{j, target}
	o, ok := e.overrides.Get(k)
	if ok {
		return o
	}
	imports, err := e.imports.Of(target)
	if err != nil {
		return nil // not remembered: the target may be readable next time
	}
	o = judge.Overrides(j, imports)
	e.overrides.Put(k, o)
	return o
}
