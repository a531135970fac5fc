// Package loaderconf watches the configuration that decides what libraries
// credential programs load — the dynamic loader's (/etc/ld.so.preload,
// ld.so.conf and its directory, the cache, /etc/environment and systemd
// units that set loader variables) and the authentication stacks' (PAM
// stacks, nsswitch.conf, sudo.conf, ssh's provider options) — reads what
// each file now says, diffs it against what it said before, and attributes
// each change to the process the kernel saw touch the file.
package loaderconf

import (
	"bufio"
	"bytes"
	"runtime"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/ldso"
)

// maxItems bounds what one file is taken to name: a preload file with
// thousands of entries is reported, not held whole.
const maxItems = 1024

// Parsed is what a configuration file names.
type Parsed struct {
	Items     []ldso.Item
	Truncated bool // more than maxItems
	// EnvFiles are a unit's EnvironmentFile= names: the loader variables
	// they set count as the unit's.
	EnvFiles []string
}

func (p *Parsed) add(it ldso.Item) {
	if len(p.Items) >= maxItems {
		p.Truncated = true
		return
	}
	p.Items = append(p.Items, it)
}

// parsers read each kind of file; source names the file in the items.
var parsers = map[string]func(source string, b []byte) Parsed{
	"pam":         func(source string, b []byte) Parsed { return ParsePAM(source, b, false) },
	"pamconf":     func(source string, b []byte) Parsed { return ParsePAM(source, b, true) },
	"nsswitch":    ParseNSSwitch,
	"sudoconf":    ParseSudoConf,
	"sshconf":     ParseSSHConf,
	"preload":     ParsePreload,
	"ldconf":      ParseLdConf,
	"environment": ParseEnvironment,
	"unit":        ParseUnit,
}

// Parse reads a file of the given kind (preload, ldconf, environment, unit;
// pam, pamconf, nsswitch, sudoconf, sshconf). source names the file in the
// items. A kind it does not know has no items.
func Parse(kind, source string, b []byte) Parsed {
	if parse, ok := parsers[kind]; ok {
		return parse(source, b)
	}
	return Parsed{}
}

// ParsePreload reads /etc/ld.so.preload the way glibc does: entries are
// separated by spaces, tabs, newlines and colons; there are no comments (a
// "#" begins a file name like any other byte). $LIB and $PLATFORM are
// expanded as the loader expands them.
func ParsePreload(source string, b []byte) Parsed {
	var p Parsed
	for _, f := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == ':' || r == '\r' }) {
		p.add(ldso.Item{Kind: ldso.Preload, Source: source, Value: f, Path: ldso.ExpandTokens(f, runtime.GOARCH)})
	}
	return p
}

// ParseLdConf reads ld.so.conf syntax: one directory per line (or several
// separated by spaces, tabs, commas or colons), "#" comments, and "include"
// lines, which are reported as items too (their globs are not followed).
func ParseLdConf(source string, b []byte) Parsed {
	var p Parsed
	lines(b, func(line string) {
		if rest, ok := strings.CutPrefix(line, "include"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			for _, g := range strings.Fields(rest) {
				p.add(ldso.Item{Kind: "include", Source: source, Value: g, Path: g})
			}
			return
		}
		if strings.HasPrefix(line, "hwcap ") {
			return
		}
		for _, d := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == ':' }) {
			p.add(ldso.Item{Kind: ldso.SearchDir, Source: source, Value: d, Path: d})
		}
	})
	return p
}

// ParseEnvironment reads /etc/environment (pam_env): KEY=VALUE lines,
// optionally quoted, "#" comments, an optional "export " prefix.
func ParseEnvironment(source string, b []byte) Parsed {
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env = append(env, strings.TrimSpace(k)+"="+unquote(strings.TrimSpace(v)))
	}
	return loaderItems(source, env)
}

// ParseUnit reads a systemd unit or drop-in for loader variables set with
// Environment= (several assignments a line, quoted or not) and names the
// files of EnvironmentFile= (a leading "-" marks them optional).
func ParseUnit(source string, b []byte) Parsed {
	var env []string
	var files []string
	sc := bufio.NewScanner(bytes.NewReader(joinContinuations(b)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Environment":
			env = append(env, splitQuoted(strings.TrimSpace(v))...)
		case "EnvironmentFile":
			for _, f := range strings.Fields(v) {
				files = append(files, strings.TrimPrefix(f, "-"))
			}
		}
	}
	p := loaderItems(source, env)
	p.EnvFiles = files
	return p
}

// loaderItems keeps the loader variables of env as items.
func loaderItems(source string, env []string) Parsed {
	var p Parsed
	for _, it := range ldso.FromEnv(env) {
		if it.Kind == "" {
			continue // not a variable the loader interprets
		}
		it.Source = source + ":" + it.Source
		p.add(it)
	}
	return p
}

func joinContinuations(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\\\r\n"), []byte(" ")), []byte("\\\n"), []byte(" "))
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// splitQuoted splits systemd's space-separated, optionally quoted words.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	have := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0 && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, have = c, true
		case c == ' ' || c == '\t':
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
