package output

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/observation"
)

// Route is one destination with its encoding.
type Route struct {
	Name    string
	Encoder format.Encoder
	// MaxBytes bounds one message (0: none); larger events are shrunk.
	MaxBytes int
	// Lines, or Net with Syslog framing: exactly one is set.
	Lines  LineSink
	Net    *NetSink
	Syslog *format.Syslog
}

// Publisher sends each document to every route.
type Publisher struct {
	routes    []Route
	scratch   sync.Pool     // *[]byte
	Errors    atomic.Uint64 // documents a route could not take
	Truncated atomic.Uint64 // documents shrunk to fit
}

// NewPublisher returns a publisher over routes.
func NewPublisher(routes ...Route) *Publisher {
	p := &Publisher{routes: routes}
	p.scratch.New = func() any { b := make([]byte, 0, 8192); return &b }
	return p
}

// Routes lists the routes (for metrics).
func (p *Publisher) Routes() []Route { return p.routes }

// Publish encodes doc for every route and hands it over. An error from one
// route does not stop the others.
func (p *Publisher) Publish(o *observation.Observation) error {
	var errs []error
	for _, r := range p.routes {
		if err := p.send(r, o); err != nil {
			p.Errors.Add(1)
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Publisher) send(r Route, o *observation.Observation) error {
	max := r.MaxBytes
	var head int
	if r.Syslog != nil && max > 0 {
		head = len(r.Syslog.Frame(nil, 0, "alert", time.Now())) + 8
	}
	// The encoding goes into a buffer kept for the next document: lines
	// and syslog frames copy it (a line sink into its own buffer, a frame
	// into the spool's record).
	bp := p.scratch.Get().(*[]byte)
	defer p.scratch.Put(bp)
	b, shrunk, err := format.FitAppend((*bp)[:0], r.Encoder, o, max-head)
	if cap(b) <= 64<<10 {
		*bp = b // a larger one (a rare document) is not kept
	}
	if err != nil {
		return err
	}
	if shrunk {
		p.Truncated.Add(1)
	}
	if r.Lines != nil {
		return r.Lines.Write(b)
	}
	msgid := "event"
	prio := PrioTelemetry
	if o.Alert() {
		msgid, prio = "alert", PrioAlert
	}
	t := o.Time
	if t.IsZero() {
		t = time.Now()
	}
	return r.Net.Send(prio, r.Syslog.Frame(b, format.Severity(o), msgid, t))
}

// Flush writes what the line routes keep (the agent calls it when it has
// nothing more to do): lost is how many documents could not be written,
// also counted in Errors.
func (p *Publisher) Flush() (lost int, err error) {
	var errs []error
	for _, r := range p.routes {
		if r.Lines == nil {
			continue
		}
		n, err := r.Lines.Flush()
		if err != nil {
			lost += n
			p.Errors.Add(uint64(n))
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
	}
	return lost, errors.Join(errs...)
}

// Close closes every route.
func (p *Publisher) Close() error {
	var errs []error
	for _, r := range p.routes {
		if r.Lines != nil {
			errs = append(errs, r.Lines.Close())
		}
		if r.Net != nil {
			errs = append(errs, r.Net.Close())
		}
	}
	return errors.Join(errs...)
}
