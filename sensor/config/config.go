// Package config reads hookwatch's configuration: one YAML file
// (/etc/hookwatch/hookwatch.yaml) and drop-ins (conf.d/*.yaml) merged over
// it in name order. Every error names the file and, where YAML knows it,
// the line. With no file at all the defaults make a working sensor.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hookwatch/hookwatch/sensor/fold"

	"gopkg.in/yaml.v3"
)

// Default paths.
const (
	DefaultFile   = "/etc/hookwatch/hookwatch.yaml"
	DefaultDropIn = "/etc/hookwatch/conf.d"
)

// Config is the whole configuration. Field comments are the documentation
// of record; packaging/hookwatch.yaml repeats them for operators.
type Config struct {
	// Collector: auto (eBPF, falling back to audit), ebpf, or audit.
	Collector string  `yaml:"collector"`
	Rules     Rules   `yaml:"rules"`
	Output    Output  `yaml:"output"`
	Syslog    Syslog  `yaml:"syslog"`
	Log       Log     `yaml:"log"`
	Metrics   Metrics `yaml:"metrics"`
	Kernel    Kernel  `yaml:"kernel"`
	Audit     Audit   `yaml:"audit"`
	Agent     Agent   `yaml:"agent"`
}

// Rules says where the facts and the rules come from.
type Rules struct {
	// Facts replaces the built-in facts file (rules/facts.yaml: credential
	// programs, loader variables, locations, score weights, ATT&CK names),
	// what the rules' fields are computed from; "" keeps it.
	Facts string `yaml:"facts"`
	// File is Facts' earlier name, still read so that a configuration
	// written for an earlier hookwatch keeps working; Load moves it to
	// Facts.
	File string `yaml:"file"`
	// Dir holds the user's Sigma rules and allowlists, added to the
	// built-in ones; "" reads none.
	Dir string `yaml:"dir"`
}

// DefaultRulesDir is where users add rules and allowlists.
const DefaultRulesDir = "/etc/hookwatch/rules.d"

// Output says where events go locally.
type Output struct {
	// Destination: "stdout", "none", or an absolute file path.
	Destination string `yaml:"destination"`
	// Format: ecs, defender or cef.
	Format string `yaml:"format"`
	// Telemetry: none, loader or all.
	Telemetry string `yaml:"telemetry"`
	// A file destination is rotated at FileMaxBytes (0: never), keeping
	// FileMaxBackups old files.
	FileMaxBytes   int64 `yaml:"file_max_bytes"`
	FileMaxBackups int   `yaml:"file_max_backups"`
	// FoldWindow: repeats of an alert (same FoldKey) within this window of
	// the first are folded into one follow-up written when it ends; 0
	// writes every alert.
	FoldWindow time.Duration `yaml:"fold_window"`
	// FoldKey: what makes two alerts repeats: rule, library, target, user.
	FoldKey []string `yaml:"fold_key"`
}

// Syslog configures delivery to a syslog collector (for Sentinel: rsyslog or
// syslog-ng with the Azure Monitor Agent).
type Syslog struct {
	// Address: unix:///dev/log, udp://host:514, tcp://host:514 or
	// tls://host:6514; "" turns syslog off.
	Address string `yaml:"address"`
	// Format of the message body: ecs, defender or cef.
	Format string `yaml:"format"`
	// Header: rfc5424 or rfc3164.
	Header         string `yaml:"header"`
	Facility       string `yaml:"facility"`
	AppName        string `yaml:"app_name"`
	StructuredData string `yaml:"structured_data"`
	// MaxMessageBytes bounds a message, header included; larger events are
	// shrunk with a visible marker.
	MaxMessageBytes int       `yaml:"max_message_bytes"`
	TLS             SyslogTLS `yaml:"tls"`
	// The spool keeps every message until delivery is confirmed.
	SpoolDir      string        `yaml:"spool_dir"`
	SpoolMaxBytes int64         `yaml:"spool_max_bytes"`
	ResendWindow  time.Duration `yaml:"resend_window"`
}

// SyslogTLS configures RFC 5425 TLS.
type SyslogTLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Log configures the agent's own log (never mixed with events).
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json, auto
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is host:port for /metrics and /healthz; "" turns them off.
	Listen string `yaml:"listen"`
	// BPFStats turns on the kernel's BPF run-time statistics while
	// hookwatch runs, for the per-program run time metric.
	BPFStats bool `yaml:"bpf_stats"`
}

// Kernel configures the kernel side.
type Kernel struct {
	// RingBufferBytes: a power of two between 4 KiB and 1 GiB.
	RingBufferBytes uint32 `yaml:"ring_buffer_bytes"`
}

// Audit configures the audit collector.
type Audit struct {
	// Exec: all (every exec is audited) or watched (only the credential
	// programs and the loader, by path: cheaper, blind to loader
	// variables on other programs).
	Exec string `yaml:"exec"`
}

// Agent configures userspace processing.
type Agent struct {
	Queue         int           `yaml:"queue"`
	MaxProcesses  int           `yaml:"max_processes"`
	StartupSweep  bool          `yaml:"startup_sweep"`
	StatsInterval time.Duration `yaml:"stats_interval"`
}

// Default returns the configuration used when no file says otherwise.
func Default() Config {
	return Config{
		Collector: "auto",
		Rules:     Rules{Dir: DefaultRulesDir},
		Output: Output{Destination: "stdout", Format: "ecs", Telemetry: "loader", FileMaxBytes: 100 << 20, FileMaxBackups: 5,
			FoldWindow: 5 * time.Minute, FoldKey: fold.DefaultKey},
		Syslog: Syslog{Format: "ecs", Header: "rfc5424", Facility: "local0", AppName: "hookwatch", MaxMessageBytes: 8192,
			SpoolDir: "/var/spool/hookwatch", SpoolMaxBytes: 256 << 20, ResendWindow: 5 * time.Second},
		Log:     Log{Level: "info", Format: "auto"},
		Metrics: Metrics{Listen: "127.0.0.1:9464", BPFStats: true},
		Kernel:  Kernel{RingBufferBytes: 4 << 20},
		Audit:   Audit{Exec: "all"},
		Agent:   Agent{Queue: 8192, MaxProcesses: 16384, StartupSweep: true, StatsInterval: time.Minute},
	}
}

// Error is a configuration error with its place.
type Error struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads file and the drop-ins in dropIn (*.yaml, in name order), over
// the defaults, and returns the files it used. A missing file is the
// defaults unless required (the operator named it); set file or dropIn to
// "" to skip them.
func Load(file, dropIn string, required bool) (Config, []string, error) {
	cfg := Default()
	var used []string
	var files []string
	if file != "" {
		if _, err := os.Stat(file); err == nil || required {
			files = append(files, file)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return cfg, nil, &Error{File: file, Msg: err.Error()}
		}
	}
	var dropIns []string
	if dropIn != "" {
		if err := checkDir(dropIn); err != nil {
			return cfg, nil, err
		}
		m, _ := filepath.Glob(filepath.Join(dropIn, "*.yaml"))
		sort.Strings(m)
		dropIns = m
	}
	set := map[string]leaf{} // key path -> where a drop-in set it
	for _, f := range append(files, dropIns...) {
		b, err := readChecked(f)
		if err != nil {
			return cfg, nil, err
		}
		if len(bytes.TrimSpace(stripComments(b))) == 0 {
			// Most likely a write that went wrong; the defaults would
			// silently replace what the operator meant.
			return cfg, nil, &Error{File: f, Msg: "empty: set an option, or remove the file to use the defaults"}
		}
		var root yaml.Node
		if err := yaml.Unmarshal(b, &root); err != nil {
			return cfg, nil, yamlError(f, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return cfg, nil, yamlError(f, err)
		}
		if f != file {
			// Two drop-ins that set one option differently: which should
			// win is a guess, so neither does.
			for k, l := range leaves(&root, f) {
				if prev, ok := set[k]; ok && prev.value != l.value {
					return cfg, nil, &Error{File: f, Line: l.line, Msg: fmt.Sprintf("%s conflicts with %s:%d (%q vs %q)", k, prev.file, prev.line, l.value, prev.value)}
				}
				set[k] = l
			}
		}
		used = append(used, f)
	}
	if r := &cfg.Rules; r.File != "" {
		if r.Facts != "" && r.Facts != r.File {
			return cfg, used, &Error{File: strings.Join(used, ", "), Msg: fmt.Sprintf("rules.file (%s) is the old name of rules.facts (%s): set one", r.File, r.Facts)}
		}
		r.Facts, r.File = r.File, ""
	}
	if err := cfg.Validate(); err != nil {
		where := "configuration"
		if len(used) > 0 {
			where = strings.Join(used, ", ")
		}
		return cfg, used, &Error{File: where, Msg: err.Error()}
	}
	return cfg, used, nil
}

type leaf struct {
	file, value string
	line        int
}

func leaves(n *yaml.Node, file string) map[string]leaf {
	out := map[string]leaf{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(n.Content[i+1], k)
			}
		default:
			var b strings.Builder
			yaml.NewEncoder(&b).Encode(n)
			out[prefix] = leaf{file: file, value: strings.TrimSpace(b.String()), line: n.Line}
		}
	}
	walk(n, "")
	return out
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into one that names
// the file and line.
func yamlError(file string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			fmt.Sscanf(n, "%d", &line)
			msg = after
		}
	} else if strings.Contains(msg, "unmarshal errors:") {
		if i := strings.Index(msg, "line "); i >= 0 {
			fmt.Sscanf(msg[i+5:], "%d", &line)
			if j := strings.Index(msg[i:], ": "); j >= 0 {
				msg = msg[i+j+2:]
			}
		}
	}
	return &Error{File: file, Line: line, Msg: msg}
}

// readChecked reads a configuration file, refusing one that anyone may
// write: whoever can edit it can turn detection off.
func readChecked(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Msg: "not a regular file"}
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, &Error{File: path, Msg: fmt.Sprintf("refusing a world-writable file (mode %04o): anyone could disable detection", fi.Mode().Perm())}
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return b, nil
}

// checkDir refuses a directory anyone may write to (sticky or not: a
// drop-in added there is read).
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &Error{File: dir, Msg: err.Error()}
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return &Error{File: dir, Msg: fmt.Sprintf("refusing a world-writable directory (mode %04o): anyone could add or replace configuration", fi.Mode().Perm())}
	}
	return nil
}

// CheckRulesDir refuses a rules directory anyone may write to, or one that
// is not a directory; a missing one is fine (it holds nothing).
func CheckRulesDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && !fi.IsDir() {
		return &Error{File: dir, Msg: "rules.dir is not a directory"}
	}
	return checkDir(dir)
}

// CheckRulesPath applies the same rule to a rules file or directory.
func CheckRulesPath(path string) error {
	if path == "" {
		return nil
	}
	if _, err := readChecked(path); err != nil {
		return err
	}
	return nil
}
