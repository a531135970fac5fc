package ecs

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hookwatch/hookwatch/sensor/event"
)

// VouchedSummary encodes v.Count execs of one program with one loader
// variable the agent vouched for, between from and to: the kernel counted
// most of them instead of delivering them. One document for many execs: on a host where a
// preloader is ordinary (eatmydata on a build host) this is its telemetry.
func (e *Encoder) VouchedSummary(v event.Vouched, from, to time.Time) Doc {
	d := e.base(to, "event", "hookwatch.process", "vouched-loader-variable", []string{"process"}, []string{"start", "info"})
	ev := d["event"].(Doc)
	ev["start"], ev["end"] = ts(from), ts(to)
	d["process"] = Doc{"name": v.Comm, "env_vars": []string{clean(v.Env)}}
	d["labels"] = Doc{"exec_count": strconv.FormatUint(v.Count, 10)}
	d["message"] = clean(fmt.Sprintf("%d execs of %s with %s (vouched for)", v.Count, v.Comm, v.Env))
	return d
}
