package detect

import (
	"fmt"
	"path/filepath"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// What an access lets the caller do (event.AccessOp.Class).
const (
	AccessRead   = "read"
	AccessWrite  = "write"
	AccessAttach = "attach"
)

// Access builds the process_access event of a process reaching into a
// credential process: who (the caller, its executable's package state, its
// parent), into what (the target and why it is watched), how (the
// operation and what it allows), and whether the caller started the target
// (a debugger run on the program) or is a stranger to it.
func (e *Engine) Access(caller, callerParent, target *proctable.Process, a *event.Access, byParent bool) *Event {
	ev := e.newEvent(ruleset.ProcessAccess, a.Time, target.Executable, target.Credential)
	f := ev.Fields
	f["SourceImage"] = caller.Executable
	f["SourceCommandLine"] = caller.CommandLine()
	f["SourceProcessId"] = int(caller.PID)
	f["SourceUser"] = e.userName(caller.EUID)
	f["SourceUserId"] = int(caller.EUID)
	setString(f, "ContainerId", caller.Container.ID)
	setString(f, "TargetContainerId", target.Container.ID)
	if callerParent != nil {
		f["ParentImage"] = callerParent.Executable
	}
	setString(f, "SourceImageState", e.credentialProgram(caller.Executable, ldso.Version{}).state)
	f["TargetImage"] = target.Executable
	f["TargetProcessId"] = int(target.PID)
	f["TargetUser"] = e.userName(target.EUID)
	f["AccessOperation"] = string(a.Op)
	class := a.Op.Class()
	f["AccessClass"] = class
	f["SourceIsTargetParent"] = byParent
	f["LoaderRunDirectly"] = a.TargetWatch&event.WatchLoader != 0

	ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s (pid %d, user %s) %s %s (pid %d)",
		filepath.Base(caller.Executable), caller.PID, f["SourceUser"], accessVerb(a.Op), filepath.Base(target.Executable), target.PID))
	if byParent {
		ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s started %s (its parent or tracer from exec)", filepath.Base(caller.Executable), filepath.Base(target.Executable)))
	}
	w := e.rules.Scoring.Access[class]
	if byParent {
		w += e.rules.Scoring.Access["by_parent"]
	}
	ev.targetWhy = filepath.Base(target.Executable) + " is a credential program"
	if !target.Credential {
		ev.targetWhy = filepath.Base(target.Executable) + " is the dynamic loader run directly"
	}
	e.score(ev, w)
	return ev
}

// accessVerbs say in a reason what the caller did to the target.
var accessVerbs = map[event.AccessOp]string{
	event.AccessAttach:     "attached with ptrace to",
	event.AccessSeize:      "seized with ptrace",
	event.AccessPeek:       "read with ptrace the memory or registers of",
	event.AccessPoke:       "wrote with ptrace into the memory of",
	event.AccessSetRegs:    "changed with ptrace the registers of",
	event.AccessVMRead:     "read with process_vm_readv the memory of",
	event.AccessVMWrite:    "wrote with process_vm_writev into the memory of",
	event.AccessMemRead:    "opened for reading /proc/PID/mem of",
	event.AccessMemWrite:   "opened for writing /proc/PID/mem of",
	event.AccessTracedExec: "traces from its start",
}

func accessVerb(op event.AccessOp) string {
	if v, ok := accessVerbs[op]; ok {
		return v
	}
	return string(op) + " on"
}
