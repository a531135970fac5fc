package format

import (
	"fmt"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

// Console is for a person at a terminal (`make run`): one line per
// document, an alert as time, level (in colour), rule, program and pid,
// user, library or target, and the reason; telemetry as a compact line.
// It is never the format of a file or of syslog.
type Console struct {
	Color bool
}

var levelColor = map[observation.Level]string{
	observation.LevelCritical: "\x1b[1;31m", observation.LevelHigh: "\x1b[31m", observation.LevelMedium: "\x1b[33m", observation.LevelLow: "\x1b[36m",
}

// Encode implements Encoder.
func (c Console) Encode(o *observation.Observation) ([]byte, error) {
	var b strings.Builder
	ts := o.Timestamp
	if !o.Time.IsZero() {
		ts = o.Time.Local().Format("15:04:05.000")
	}
	b.WriteString(ts)
	b.WriteByte(' ')
	if o.Alert() {
		level := o.Level.String()
		if level == "" {
			level = "alert"
		}
		word := fmt.Sprintf("%-8s", strings.ToUpper(level))
		if col, ok := levelColor[o.Level]; ok && c.Color {
			word = col + word + "\x1b[0m"
		}
		b.WriteString(word)
		b.WriteByte(' ')
		name := o.Event.Action
		if o.Rule != nil && o.Rule.Name != "" {
			name = o.Rule.Name
		}
		b.WriteString(name)
	} else {
		fmt.Fprintf(&b, "%-8s %s", "event", o.Event.Action)
	}
	if p := o.Process; p != nil {
		if n := first(p.Name, base(p.Executable)); n != "" {
			fmt.Fprintf(&b, "  %s[%d]", n, p.PID)
		}
		if p.User != nil && p.User.Name != "" {
			fmt.Fprintf(&b, " user=%s", p.User.Name)
		}
	}
	if o.Dll != nil && o.Dll.Path != "" {
		fmt.Fprintf(&b, " library=%s", o.Dll.Path)
	} else if o.File != nil && o.File.Path != "" {
		fmt.Fprintf(&b, " file=%s", o.File.Path)
	}
	if t := o.Labels.Get("target_image"); t != "" {
		fmt.Fprintf(&b, " target=%s", t)
	}
	if r := o.Event.Reason; r != "" {
		fmt.Fprintf(&b, ": %s", clip(r, 240))
	} else if m := o.Message; m != "" && !o.Alert() {
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
