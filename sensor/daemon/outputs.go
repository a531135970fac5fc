package daemon

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/sensor/config"
	"github.com/hookwatch/hookwatch/sensor/format"
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/output"
)

// encoder builds the encoder a format name stands for.
func encoder(name, version string) (format.Encoder, error) {
	switch name {
	case "ecs":
		return format.ECS{}, nil
	case "defender":
		return format.NewDefender(machineID())
	case "cef":
		return format.CEF{Version: version}, nil
	case "console":
		return format.Console{Color: true}, nil
	}
	return nil, fmt.Errorf("unknown format %q", name)
}

// buildPublisher makes the routes a configuration asks for.
func buildPublisher(cfg config.Config, version string, log logrus.FieldLogger) (*output.Publisher, error) {
	var routes []output.Route
	if d := cfg.Output.Destination; d != "none" {
		enc, err := encoder(cfg.Output.Format, version)
		if err != nil {
			return nil, err
		}
		ls, err := output.Open(d, output.FileConfig{MaxBytes: cfg.Output.FileMaxBytes, MaxBackups: cfg.Output.FileMaxBackups})
		if err != nil {
			return nil, err
		}
		routes = append(routes, output.Route{Name: d, Encoder: enc, Lines: ls})
	}
	if s := cfg.Syslog; s.Address != "" {
		enc, err := encoder(s.Format, version)
		if err != nil {
			return nil, closeRoutes(routes, err)
		}
		fac, err := format.Facility(s.Facility)
		if err != nil {
			return nil, closeRoutes(routes, err)
		}
		host, _ := os.Hostname()
		ns, err := output.NewNetSink(output.NetConfig{
			Address: s.Address, SpoolDir: s.SpoolDir, SpoolMaxBytes: s.SpoolMaxBytes, ResendWindow: s.ResendWindow,
			TLS: output.TLSConfig{CAFile: s.TLS.CAFile, CertFile: s.TLS.CertFile, KeyFile: s.TLS.KeyFile, ServerName: s.TLS.ServerName, InsecureSkipVerify: s.TLS.InsecureSkipVerify},
		}, log)
		if err != nil {
			return nil, closeRoutes(routes, err)
		}
		routes = append(routes, output.Route{
			Name: s.Address, Encoder: enc, MaxBytes: s.MaxMessageBytes, Net: ns,
			Syslog: format.NewSyslog(s.Header == "rfc3164", fac, host, s.AppName, s.StructuredData),
		})
	}
	return output.NewPublisher(routes...), nil
}

func closeRoutes(routes []output.Route, err error) error {
	errs := []error{err}
	for _, r := range routes {
		if r.Lines != nil {
			errs = append(errs, r.Lines.Close())
		}
	}
	return errors.Join(errs...)
}

// swapPublisher lets a reload change the outputs while events flow.
type swapPublisher struct {
	mu sync.RWMutex
	p  *output.Publisher
}

func (s *swapPublisher) Publish(o *observation.Observation) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.p.Publish(o)
}

func (s *swapPublisher) Flush() (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.p.Flush()
}

func (s *swapPublisher) get() *output.Publisher {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.p
}

func (s *swapPublisher) swap(n *output.Publisher) {
	s.mu.Lock()
	old := s.p
	s.p = n
	s.mu.Unlock()
	old.Close()
}

func (s *swapPublisher) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.Close()
}
