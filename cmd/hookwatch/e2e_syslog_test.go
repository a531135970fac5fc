package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rsyslog is a real rsyslogd receiving on 127.0.0.1 and writing each
// message body to a file.
type rsyslog struct {
	dir, port, out, conf string
	socket               string // unix: the socket
	udp                  bool
	cmd                  *exec.Cmd
}

type certs struct{ ca, cert, key string }

// makeCerts writes a CA and a server certificate for 127.0.0.1/localhost.
func makeCerts(t *testing.T, dir string) certs {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	c := certs{filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")}
	os.WriteFile(c.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(c.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(c.key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return c
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// newRsyslog writes the configuration; tls nil for plain TCP.
func newRsyslog(t *testing.T, tls *certs) *rsyslog { return newRsyslogProto(t, tls, "tcp") }

// newRsyslogProto listens on tcp (imtcp, with tls if given), udp (imudp)
// or unix (imuxsock on a socket of its own, the way /dev/log works).
func newRsyslogProto(t *testing.T, tls *certs, proto string) *rsyslog {
	udp := proto == "udp"
	t.Helper()
	if _, err := exec.LookPath("rsyslogd"); err != nil {
		t.Fatal("rsyslogd is needed: apt-get install rsyslog rsyslog-gnutls (see .ci/run)")
	}
	r := &rsyslog{dir: t.TempDir(), port: freePort(t)}
	r.out = filepath.Join(r.dir, "received.log")
	r.conf = filepath.Join(r.dir, "rsyslog.conf")
	global := fmt.Sprintf(`global(workDirectory="%s" maxMessageSize="64k")`, r.dir)
	mod := `module(load="imtcp")`
	if tls != nil {
		global = fmt.Sprintf(`global(workDirectory="%s" maxMessageSize="64k" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="%s" DefaultNetstreamDriverCertFile="%s" DefaultNetstreamDriverKeyFile="%s")`,
			r.dir, tls.ca, tls.cert, tls.key)
		mod = `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")`
	}
	input := fmt.Sprintf(`input(type="imtcp" port="%s" address="127.0.0.1")`, r.port)
	switch proto {
	case "udp":
		mod, input = `module(load="imudp")`, fmt.Sprintf(`input(type="imudp" port="%s" address="127.0.0.1")`, r.port)
	case "unix":
		r.socket = filepath.Join(r.dir, "log.sock")
		mod = `module(load="imuxsock" SysSock.Use="off")`
		input = fmt.Sprintf(`input(type="imuxsock" Socket="%s" UseSpecialParser="off" ParseHostname="on")`, r.socket)
	}
	conf := fmt.Sprintf("%s\n%s\n%s\n"+
		"template(name=\"body\" type=\"string\" string=\"%%msg%%\\n\")\n"+
		"action(type=\"omfile\" file=\"%s\" template=\"body\" flushOnTXEnd=\"on\")\n", global, mod, input, r.out)
	os.WriteFile(r.conf, []byte(conf), 0o600)
	r.udp = udp
	r.start(t)
	t.Cleanup(func() { r.stop(syscall.SIGTERM) })
	return r
}

func (r *rsyslog) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("rsyslogd", "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "pid"))
	var stderr syncBuffer
	r.cmd.Stderr = &stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if r.socket != "" {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(r.socket); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd made no socket:\n%s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if r.udp {
		// Nothing to connect to: wait until rsyslogd has bound the port.
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+r.port)
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				return
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd did not bind UDP:\n%s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+r.port)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd did not listen:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *rsyslog) stop(sig syscall.Signal) {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(sig)
		r.cmd.Wait()
		r.cmd = nil
	}
}

// received parses every message body received so far.
func (r *rsyslog) received(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(r.out)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, raw := range completeLines(b) {
		line := strings.TrimSpace(string(raw))
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Errorf("received a message that is not JSON: %v\n%q", err, line)
			continue
		}
		out = append(out, d)
	}
	return out
}

// sensorConfig writes a configuration file for a sensor sending to r.
func sensorConfig(t *testing.T, address, spool, extra string) string {
	conf := filepath.Join(t.TempDir(), "hookwatch.yaml")
	body := fmt.Sprintf("log:\n  format: json\nsyslog:\n  address: %s\n  spool_dir: %s\n  resend_window: 2s\n%s", address, spool, extra)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// hookedRuns runs /bin/true with LD_PRELOAD, tagged with a sequence number
// in its arguments, and returns the tags.
func hookedRuns(t *testing.T, hook string, from, n int) []string {
	t.Helper()
	var tags []string
	for i := from; i < from+n; i++ {
		tag := fmt.Sprintf("seq-%05d", i)
		c := exec.Command("/bin/true", tag)
		c.Env = []string{"LD_PRELOAD=" + hook}
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag)
	}
	return tags
}

// alertTags lists, in arrival order, the sequence tags of loader-variable
// alerts received, and the event ids seen more than once.
func alertTags(docs []map[string]any) (tags []string, dupes int) {
	seen := map[string]bool{}
	for _, d := range docs {
		if !isAlert(d, "loader-variable-untrusted") && !isAlert(d, "loader-variable-credential-untrusted") {
			continue
		}
		id := str(d, "event.id")
		if seen[id] {
			dupes++
			continue
		}
		seen[id] = true
		// process.args is there only when the command line is ambiguous.
		if args := strings.Fields(str(d, "process.command_line")); len(args) == 2 && strings.HasPrefix(args[1], "seq-") {
			tags = append(tags, args[1])
		}
	}
	return tags, dupes
}

func waitTags(t *testing.T, r *rsyslog, want []string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		docs := r.received(t)
		got, _ := alertTags(docs)
		if len(got) >= len(want) {
			return docs
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d alerts", len(got), len(want))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestSyslogReceivesEverything(t *testing.T) {
	hook := compileHook(t)
	for _, tc := range []struct {
		name   string
		tls    bool
		scheme string
	}{{"tcp", false, "tcp"}, {"tls", true, "tls"}, {"udp", false, "udp"}, {"unix", false, "unix"}} {
		t.Run(tc.name, func(t *testing.T) {
			var c *certs
			extra := ""
			if tc.tls {
				cc := makeCerts(t, t.TempDir())
				c = &cc
				extra = fmt.Sprintf("  tls:\n    ca_file: %s\n", cc.ca)
			}
			proto := tc.scheme
			if proto == "tls" {
				proto = "tcp"
			}
			r := newRsyslogProto(t, c, proto)
			address := tc.scheme + "://127.0.0.1:" + r.port
			if tc.scheme == "unix" {
				address = "unix://" + r.socket
			}
			conf := sensorConfig(t, address, t.TempDir(), extra)
			s := startSensor(t, "-config", conf, "-no-sweep")
			want := hookedRuns(t, hook, 0, 20)
			docs := waitTags(t, r, want)
			got, _ := alertTags(docs)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("alerts out of order or missing:\n got %v\nwant %v", got, want)
			}
			// What went to syslog is what went to the file, event for event.
			local := map[string]bool{}
			for _, d := range s.docs() {
				local[str(d, "event.id")] = true
			}
			for _, d := range docs {
				if !local[str(d, "event.id")] {
					t.Errorf("received an event the sensor did not write locally: %s", str(d, "event.id"))
				}
			}
		})
	}
}

// Kill the collector mid-stream, keep going, bring it back, restart
// hookwatch too: every alert arrives, in order; duplicates only within the
// documented resend window, recognisable by event.id.
func TestSyslogSurvivesCollectorAndSensorRestarts(t *testing.T) {
	hook := compileHook(t)
	r := newRsyslog(t, nil)
	spool := t.TempDir()
	conf := sensorConfig(t, "tcp://127.0.0.1:"+r.port, spool, "")
	s := startSensor(t, "-config", conf, "-no-sweep")

	var want []string
	want = append(want, hookedRuns(t, hook, 0, 10)...)
	waitTags(t, r, want)
	r.stop(syscall.SIGKILL) // mid-stream, no goodbye
	want = append(want, hookedRuns(t, hook, 10, 15)...)
	time.Sleep(time.Second)
	s.stop() // hookwatch restarts while the collector is still down
	s2 := startSensor(t, "-config", conf, "-no-sweep")
	want = append(want, hookedRuns(t, hook, 25, 10)...)
	r.start(t)
	docs := waitTags(t, r, want)
	got, dupes := alertTags(docs)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("alerts out of order or missing:\n got %v\nwant %v", got, want)
	}
	t.Logf("%d alerts, %d duplicates (same event.id) after two restarts", len(got), dupes)
	_ = s2
}
