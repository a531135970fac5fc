package ecs

import (
	"fmt"
	"path/filepath"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// Access encodes a process reaching into a credential process. process.*
// is the caller, as in every hookwatch document; ECS has no field set for
// a target process, so the target is in labels (target_image,
// target_process_id, target_user from the facts, and its entity id here).
func (e *Encoder) Access(sh *Shared, caller, parent, target *proctable.Process, a *event.Access, byParent bool) *Doc {
	d := e.base(a.Time, observation.KindEvent, observation.DatasetAccess, string(a.Op), kinds.process, kinds.access)
	e.subject(d, sh, caller, parent)
	rel := "a stranger to it"
	if byParent {
		rel = "its parent"
	}
	d.Message = clean(fmt.Sprintf("%s (pid %d) %s %s (pid %d), %s", filepath.Base(caller.Executable), caller.PID,
		a.Op, target.Executable, target.PID, rel))
	label(d, "target_entity_id", target.EntityID)
	return d
}
