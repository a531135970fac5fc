package ecs

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/observation"
)

// VouchedSummary encodes v.Count execs of one program with one loader
// variable the agent vouched for, between from and to: the kernel counted
// most of them instead of delivering them. One document for many execs: on a host where a
// preloader is ordinary (eatmydata on a build host) this is its telemetry.
func (e *Encoder) VouchedSummary(v event.Vouched, from, to time.Time) *Doc {
	d := e.base(to, observation.KindEvent, observation.DatasetProcess, "vouched-loader-variable", []string{"process"}, []string{"start", "info"})
	d.Event.Start, d.Event.End = ts(from), ts(to)
	d.Process = &observation.Process{Name: v.Comm, EnvVars: []string{clean(v.Env)}}
	label(d, "exec_count", strconv.FormatUint(v.Count, 10))
	d.Message = clean(fmt.Sprintf("%d execs of %s with %s (vouched for)", v.Count, v.Comm, v.Env))
	return d
}
