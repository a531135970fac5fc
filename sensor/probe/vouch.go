package probe

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/hookwatch/hookwatch/sensor/event"
)

// vouchLen is the kernel's key length for a loader variable (VOUCH_LEN,
// from the generated type): a string as long is never vouched for in the
// kernel, only judged.
var vouchLen = len(hookwatchVouchKey{}.Env)

// errNotVouchable: the string does not fit the kernel's key.
var errNotVouchable = errors.New("too long for a kernel verdict")

func vouchKey(comm, env string) (hookwatchVouchKey, error) {
	var k hookwatchVouchKey
	if len(env) >= vouchLen || len(comm) > len(k.Comm) || env == "" {
		return k, errNotVouchable
	}
	copy(k.Comm[:], comm)
	copy(k.Env[:], env)
	return k, nil
}

// Vouch tells the kernel that execs of comm whose only loader variable is
// env are judged: count them, do not deliver them, do not watch them.
func (p *Probe) Vouch(comm, env string) error {
	k, err := vouchKey(comm, env)
	if err != nil {
		return err
	}
	var zero uint64
	if err := p.objs.Vouched.Update(k, zero, ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("vouching for %q in %s: %w", env, comm, err)
	}
	return nil
}

// Vouched reads every verdict with the execs the kernel counted for it.
func (p *Probe) Vouched() ([]event.Vouched, error) {
	var (
		k    hookwatchVouchKey
		n    uint64
		out  []event.Vouched
		iter = p.objs.Vouched.Iterate()
		cstr = func(b []byte) string {
			for i, c := range b {
				if c == 0 {
					return string(b[:i])
				}
			}
			return string(b)
		}
	)
	for iter.Next(&k, &n) {
		out = append(out, event.Vouched{Comm: cstr(k.Comm[:]), Env: cstr(k.Env[:]), Count: n})
	}
	if err := iter.Err(); err != nil {
		return out, fmt.Errorf("reading vouched verdicts: %w", err)
	}
	return out, nil
}

// ForgetVouched drops every verdict: the next exec of each is delivered
// and judged again. It returns what the kernel had counted, so no exec
// goes unreported.
func (p *Probe) ForgetVouched() ([]event.Vouched, error) {
	all, err := p.Vouched()
	for i, v := range all {
		k, _ := vouchKey(v.Comm, v.Env)
		var n uint64
		// Read and delete as one, so a count added between the two is
		// not lost.
		if err := p.objs.Vouched.LookupAndDelete(k, &n); err == nil {
			all[i].Count = n
		}
	}
	return all, err
}
