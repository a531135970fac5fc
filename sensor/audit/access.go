package audit

import (
	"os"
	"strconv"
	"time"

	"github.com/hookwatch/hookwatch/sensor/event"
)

// maxAccessSeen bounds the (caller, target, operation) triples reported.
const maxAccessSeen = 4096

type accessKey struct {
	caller, target uint32
	op             event.AccessOp
}

// access reports a successful ptrace or process_vm_* call on another
// process, once per caller, target and operation, as the eBPF side does.
// Audit cannot tell a credential target in the kernel: the agent decides,
// from the target's executable. /proc/PID/mem opens are not audited (no
// rule can name them without auditing every open of /proc).
func (c *Collector) access(h event.Handler, name string, sc map[string]string, when time.Time) {
	if sc["result"] != "success" {
		return
	}
	var op event.AccessOp
	arg := "a0"
	switch name {
	case "process_vm_readv":
		op = event.AccessVMRead
	case "process_vm_writev":
		op = event.AccessVMWrite
	default:
		arg = "a1"
		op = map[string]event.AccessOp{
			"10": event.AccessAttach, "4206": event.AccessSeize, "4": event.AccessPoke, "5": event.AccessPoke,
			"d": event.AccessSetRegs, "4205": event.AccessSetRegs,
		}[sc["a0"]]
	}
	target, err := strconv.ParseUint(sc[arg], 16, 32)
	pid := atou(sc["pid"])
	if op == "" || err != nil || uint32(target) == pid || pid == uint32(os.Getpid()) {
		return
	}
	k := accessKey{caller: pid, target: uint32(target), op: op}
	c.mu.Lock()
	if c.accessSeen == nil || len(c.accessSeen) >= maxAccessSeen {
		c.accessSeen = map[accessKey]bool{}
	}
	seen := c.accessSeen[k]
	c.accessSeen[k] = true
	c.mu.Unlock()
	if seen {
		return
	}
	var start uint64
	if st, err := c.cfg.Proc.Stat(pid); err == nil {
		start = st.StartTicks * ticksToNs
	}
	c.delivered.Add(1)
	h.Access(&event.Access{Proc: proc(sc, when, start), Executable: sc["exe"], Op: op, Target: uint32(target)})
}
