package output

import (
	"errors"
	"fmt"
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
	Errors    atomic.Uint64 // documents a route could not take
	Truncated atomic.Uint64 // documents shrunk to fit
}

// NewPublisher returns a publisher over routes.
func NewPublisher(routes ...Route) *Publisher { return &Publisher{routes: routes} }

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
	b, shrunk, err := format.Fit(r.Encoder, o, max-head)
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
