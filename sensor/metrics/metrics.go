// Package metrics serves hookwatch's Prometheus metrics (/metrics) and
// health (/healthz). Values are read from their owners at scrape time: the
// hot path counts in plain atomics and never touches Prometheus.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// Sample is one value of a metric with its label values.
type Sample struct {
	Labels []string
	Value  float64
}

// Metric is a metric read at scrape time.
type Metric struct {
	Name, Help string
	Labels     []string
	Counter    bool // else a gauge
	Read       func() []Sample
}

// Server serves metrics and health.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	log    logrus.FieldLogger
	health func() error
}

type collector struct {
	metrics []Metric
	descs   []*prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for i, m := range c.metrics {
		typ := prometheus.GaugeValue
		if m.Counter {
			typ = prometheus.CounterValue
		}
		for _, s := range m.Read() {
			ch <- prometheus.MustNewConstMetric(c.descs[i], typ, s.Value, s.Labels...)
		}
	}
}

// New listens on addr and serves ms with the Go runtime's own metrics and
// build info. health says whether the sensor is working (nil) or why not.
func New(addr, version string, ms []Metric, health func() error, log logrus.FieldLogger) (*Server, error) {
	reg := prometheus.NewRegistry()
	c := &collector{metrics: ms}
	for _, m := range ms {
		c.descs = append(c.descs, prometheus.NewDesc(m.Name, m.Help, m.Labels, nil))
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hookwatch_build_info", Help: "Build of the running hookwatch; always 1."}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	for _, col := range []prometheus.Collector{c, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	s := &Server{ln: ln, log: log, health: health}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("/healthz", s.healthz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := s.health(); err != nil {
		http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Serve serves until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.srv.Shutdown(shut)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics server: %w", err)
	}
}
