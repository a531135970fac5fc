package ref

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// Attached is a loaded reference.
type Attached struct {
	objs  refObjects
	links []link.Link
	rd    *ringbuf.Reader
	done  chan struct{}
	// Programs by name, for run-time statistics.
	Programs map[string]*ebpf.Program
}

// Attach loads a reference: "empty" (an empty program on sched_process_exec
// and sys_enter_mmap) or "submit" (every exec's filename to a ring buffer,
// drained here).
func Attach(kind string) (*Attached, error) {
	a := &Attached{done: make(chan struct{})}
	if err := loadRefObjects(&a.objs, nil); err != nil {
		return nil, fmt.Errorf("loading reference programs: %w", err)
	}
	type tp struct {
		group, name string
		prog        *ebpf.Program
		label       string
	}
	var tps []tp
	switch kind {
	case "empty":
		tps = []tp{{"sched", "sched_process_exec", a.objs.EmptyExec, "empty_exec"}, {"syscalls", "sys_enter_mmap", a.objs.EmptyMmap, "empty_mmap"}}
	case "submit":
		tps = []tp{{"sched", "sched_process_exec", a.objs.SubmitExec, "submit_exec"}}
	default:
		a.objs.Close()
		return nil, fmt.Errorf("unknown reference %q", kind)
	}
	a.Programs = map[string]*ebpf.Program{}
	for _, t := range tps {
		l, err := link.Tracepoint(t.group, t.name, t.prog, nil)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("attaching %s: %w", t.label, err)
		}
		a.links = append(a.links, l)
		a.Programs[t.label] = t.prog
	}
	if kind == "submit" {
		rd, err := ringbuf.NewReader(a.objs.RefEvents)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.rd = rd
		go func() {
			defer close(a.done)
			for {
				if _, err := rd.Read(); errors.Is(err, ringbuf.ErrClosed) {
					return
				}
			}
		}()
	} else {
		close(a.done)
	}
	return a, nil
}

// Close detaches everything.
func (a *Attached) Close() error {
	for _, l := range a.links {
		l.Close()
	}
	if a.rd != nil {
		a.rd.Close()
		<-a.done
	}
	return a.objs.Close()
}
