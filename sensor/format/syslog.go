package format

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

// Facilities by name (RFC 5424 section 6.2.1).
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Facility looks a facility name up.
func Facility(name string) (int, error) {
	f, ok := facilities[name]
	if !ok {
		return 0, fmt.Errorf("syslog facility %q is unknown (kern, user, daemon, auth, authpriv, syslog, local0 to local7)", name)
	}
	return f, nil
}

// Severity is the syslog severity of a document: alerts by level,
// telemetry informational.
func Severity(o *observation.Observation) int { return o.Level.Syslog() }

// Syslog frames messages with an RFC 5424 or RFC 3164 header.
type Syslog struct {
	RFC3164        bool
	Facility       int
	Hostname       string
	AppName        string
	StructuredData string // RFC 5424 SD-ELEMENTs, or "" for "-"
	pid            string
}

// NewSyslog returns a framer.
func NewSyslog(rfc3164 bool, facility int, hostname, appName, sd string) *Syslog {
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	return &Syslog{RFC3164: rfc3164, Facility: facility, Hostname: hostname, AppName: appName, StructuredData: sd, pid: strconv.Itoa(os.Getpid())}
}

// Frame puts a header before msg. msgid is the RFC 5424 MSGID (the event
// kind); severity the syslog severity.
func (s *Syslog) Frame(msg []byte, severity int, msgid string, t time.Time) []byte {
	pri := s.Facility*8 + severity
	var b strings.Builder
	if s.RFC3164 {
		// <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG
		fmt.Fprintf(&b, "<%d>%s %s %s[%s]: ", pri, t.Local().Format(time.Stamp), s.Hostname, s.AppName, s.pid)
	} else {
		sd := s.StructuredData
		if sd == "" {
			sd = "-"
		}
		// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
		fmt.Fprintf(&b, "<%d>1 %s %s %s %s %s %s ", pri, t.UTC().Format("2006-01-02T15:04:05.000000Z"),
			field(s.Hostname, 255), field(s.AppName, 48), s.pid, field(msgid, 32), sd)
	}
	b.Write(msg)
	return []byte(b.String())
}

// field makes a header field: printable US-ASCII, no spaces, bounded.
func field(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r > 32 && r < 127 && b.Len() < max {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// ValidUTF8 reports whether a message can go out as UTF-8 as it is. The
// encoders already escape bytes that are not; this is the check of record.
func ValidUTF8(b []byte) bool { return utf8.Valid(b) }
