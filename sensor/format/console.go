package format

import (
	"fmt"
	"strings"
	"time"
)

// Console is for a person at a terminal (`make run`): one line per
// document, an alert as time, level (in colour), rule, program and pid,
// user, library or target, and the reason; telemetry as a compact line.
// It is never the format of a file or of syslog.
type Console struct {
	Color bool
}

var levelColor = map[string]string{
	"critical": "\x1b[1;31m", "high": "\x1b[31m", "medium": "\x1b[33m", "low": "\x1b[36m",
}

// Encode implements Encoder.
func (c Console) Encode(doc map[string]any) ([]byte, error) {
	var b strings.Builder
	ts := str(doc, "@timestamp")
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.Local().Format("15:04:05.000")
	}
	b.WriteString(ts)
	b.WriteByte(' ')
	if str(doc, "event.kind") == "alert" {
		level := str(doc, "labels.severity_level")
		if level == "" {
			level = "alert"
		}
		word := fmt.Sprintf("%-8s", strings.ToUpper(level))
		if col, ok := levelColor[level]; ok && c.Color {
			word = col + word + "\x1b[0m"
		}
		b.WriteString(word)
		b.WriteByte(' ')
		b.WriteString(first(str(doc, "rule.name"), str(doc, "event.action")))
	} else {
		fmt.Fprintf(&b, "%-8s %s", "event", str(doc, "event.action"))
	}
	if p := first(str(doc, "process.name"), base(str(doc, "process.executable"))); p != "" {
		fmt.Fprintf(&b, "  %s[%s]", p, str(doc, "process.pid"))
	}
	if u := str(doc, "process.user.name"); u != "" {
		fmt.Fprintf(&b, " user=%s", u)
	}
	if l := str(doc, "dll.path"); l != "" {
		fmt.Fprintf(&b, " library=%s", l)
	} else if f := str(doc, "file.path"); f != "" {
		fmt.Fprintf(&b, " file=%s", f)
	}
	if t := str(doc, "labels.target_image"); t != "" {
		fmt.Fprintf(&b, " target=%s", t)
	}
	if r := str(doc, "event.reason"); r != "" {
		fmt.Fprintf(&b, ": %s", clip(r, 240))
	} else if m := str(doc, "message"); m != "" && str(doc, "event.kind") != "alert" {
		fmt.Fprintf(&b, ": %s", clip(m, 240))
	}
	return []byte(b.String()), nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// clip keeps a terminal line readable; the JSON formats keep everything.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
