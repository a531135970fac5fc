package output

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// TLSConfig configures syslog over TLS (RFC 5425).
type TLSConfig struct {
	CAFile             string // "" for the system's roots
	CertFile, KeyFile  string // a client certificate, if the collector asks
	ServerName         string // "" for the address's host
	InsecureSkipVerify bool
}

// NetConfig configures a network syslog sink.
type NetConfig struct {
	// Address: unix:///dev/log, udp://host:514, tcp://host:514 or
	// tls://host:6514.
	Address string
	TLS     TLSConfig
	// SpoolDir holds the sink's spool (a directory per address under it).
	SpoolDir      string
	SpoolMaxBytes int64
	// ResendWindow: TCP has no acknowledgement, so a message is taken as
	// delivered only once the connection has stayed up this long after it
	// was written; after a failure everything since is sent again.
	ResendWindow time.Duration
}

// NetSink delivers framed messages to a syslog collector, at least once:
// every message goes through the on-disk spool, and delivery is confirmed
// as NetConfig.ResendWindow says. Reconnects back off up to 30 s.
type NetSink struct {
	cfg    NetConfig
	scheme string
	host   string
	spool  *Spool
	log    logrus.FieldLogger
	tls    *tls.Config

	Sent       atomic.Uint64
	SendErrors atomic.Uint64
	connected  atomic.Bool
	wg         sync.WaitGroup
	cancel     context.CancelFunc
}

// NewNetSink checks the configuration, opens the spool and starts sending.
func NewNetSink(cfg NetConfig, log logrus.FieldLogger) (*NetSink, error) {
	u, err := url.Parse(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("syslog address %q: %w", cfg.Address, err)
	}
	s := &NetSink{cfg: cfg, scheme: u.Scheme, log: log.WithField("syslog", cfg.Address)}
	switch u.Scheme {
	case "unix", "unixgram":
		s.host = u.Path
	case "udp", "tcp", "tls":
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("syslog address %q: want host:port: %w", cfg.Address, err)
		}
		s.host = u.Host
	default:
		return nil, fmt.Errorf("syslog address %q: scheme must be unix, udp, tcp or tls", cfg.Address)
	}
	if u.Scheme == "tls" {
		if s.tls, err = tlsConfig(cfg.TLS, s.host); err != nil {
			return nil, err
		}
	}
	if cfg.ResendWindow <= 0 {
		cfg.ResendWindow = 5 * time.Second
		s.cfg.ResendWindow = cfg.ResendWindow
	}
	sum := sha256.Sum256([]byte(cfg.Address))
	if s.spool, err = OpenSpool(filepath.Join(cfg.SpoolDir, hex.EncodeToString(sum[:8])), cfg.SpoolMaxBytes); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx)
	}()
	return s, nil
}

func tlsConfig(c TLSConfig, hostport string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(hostport)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("syslog TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog TLS CA %s: no certificates", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Send spools a framed message; delivery happens in the background.
func (s *NetSink) Send(prio byte, msg []byte) error {
	return s.spool.Append(prio, msg)
}

// Spool is the sink's on-disk queue (for metrics).
func (s *NetSink) Spool() *Spool { return s.spool }

// Connected reports whether the collector is connected now.
func (s *NetSink) Connected() bool { return s.connected.Load() }

// Close stops sending. What was not confirmed stays in the spool for the
// next start.
func (s *NetSink) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.spool.Close()
}

type inflight struct {
	after Pos
	at    time.Time
}

func (s *NetSink) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	switch s.scheme {
	case "unix", "unixgram":
		return d.DialContext(ctx, "unixgram", s.host)
	case "udp":
		return d.DialContext(ctx, "udp", s.host)
	case "tcp":
		return d.DialContext(ctx, "tcp", s.host)
	}
	td := tls.Dialer{NetDialer: &d, Config: s.tls}
	return td.DialContext(ctx, "tcp", s.host)
}

// stream reports whether the transport is a byte stream (octet-counting
// framing, RFC 6587) rather than datagrams.
func (s *NetSink) stream() bool { return s.scheme == "tcp" || s.scheme == "tls" }

func (s *NetSink) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		conn, err := s.dial(ctx)
		if err != nil {
			s.SendErrors.Add(1)
			s.log.WithError(err).Debug("syslog collector unreachable")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.connected.Store(true)
		s.log.Info("syslog collector connected")
		err = s.serve(ctx, conn, tick.C)
		s.connected.Store(false)
		conn.Close()
		s.spool.Rewind()
		if err != nil && ctx.Err() == nil {
			s.SendErrors.Add(1)
			s.log.WithError(err).Warn("syslog collector lost: resending from the last confirmed message")
		}
	}
}

// serve sends on one connection until it fails or ctx is done.
func (s *NetSink) serve(ctx context.Context, conn net.Conn, tick <-chan time.Time) error {
	dead := make(chan error, 1)
	if s.stream() {
		// A syslog collector never writes back: a read ending means the
		// connection is gone, even while we have nothing to send.
		go func() {
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(buf); err != nil {
					dead <- fmt.Errorf("connection closed: %w", err)
					return
				}
			}
		}()
	}
	var pending []inflight
	window := s.cfg.ResendWindow
	if !s.stream() {
		window = 0 // a datagram is as delivered as it will ever be
	}
	confirm := func(now time.Time) {
		i := 0
		for i < len(pending) && now.Sub(pending[i].at) >= window {
			i++
		}
		if i > 0 {
			if err := s.spool.Commit(pending[i-1].after); err != nil {
				s.log.WithError(err).Warn("spool cursor")
			}
			pending = pending[i:]
		}
	}
	for {
		msg, after, ok, err := s.spool.Next()
		if err != nil {
			return err
		}
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case err := <-dead:
				return err
			case now := <-tick:
				confirm(now)
			case <-s.spool.Wait():
			}
			continue
		}
		frame := msg
		if s.stream() {
			frame = append([]byte(fmt.Sprintf("%d ", len(msg))), msg...)
		}
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(frame); err != nil {
			return err
		}
		s.Sent.Add(1)
		now := time.Now()
		pending = append(pending, inflight{after: after, at: now})
		confirm(now)
		select {
		case err := <-dead:
			return err
		default:
		}
	}
}
