package loaderconf

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/ldso"
)

// Item kinds of authentication configuration: what a credential program
// loads because its configuration says so.
const (
	// KindModule is a library a credential program loads on purpose: a PAM
	// module, a sudo plugin, an ssh PKCS#11 or security key provider.
	KindModule = "module"
	// KindNSS is a name service source (libnss_NAME.so.2).
	KindNSS = "nss"
	// KindPAMExecAuthtok is pam_exec with expose_authtok: the program it
	// runs is handed the user's password on its standard input.
	KindPAMExecAuthtok = "pam_exec_authtok"
	// KindInclude is another file of settings the file pulls in.
	KindInclude = "include"
)

// Where modules named without a directory are found, by the distribution
// conventions hookwatch knows (Debian's multiarch first).
var (
	pamDirs = []string{"/usr/lib/x86_64-linux-gnu/security", "/usr/lib/aarch64-linux-gnu/security",
		"/lib/x86_64-linux-gnu/security", "/lib/aarch64-linux-gnu/security", "/usr/lib64/security", "/lib64/security", "/lib/security", "/usr/lib/security"}
	libDirs = []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu",
		"/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib"}
	sudoDirs = []string{"/usr/libexec/sudo", "/usr/lib/sudo", "/usr/lib64/sudo"}
)

// findIn is the first dirs/name that exists, else the first candidate: a
// module that does not exist yet still has the path it will be loaded from.
func findIn(dirs []string, name string) string {
	if strings.HasPrefix(name, "/") {
		return filepath.Clean(name)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dirs[0], name)
}

// lines calls each for every line with its "#" comment cut and blanks
// trimmed, skipping empty ones.
func lines(b []byte, each func(line string)) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			each(line)
		}
	}
}

// ParsePAM reads a PAM stack (/etc/pam.d/SERVICE, or /etc/pam.conf when
// withService is set: its lines start with the service name) as libpam
// does: "type control module [args]", a type prefixed with "-" when a
// missing module is to be skipped, a control that may be a bracketed
// list with spaces, and "@include FILE" lines.
func ParsePAM(source string, b []byte, withService bool) Parsed {
	var p Parsed
	lines(joinContinuations(b), func(line string) {
		if rest, ok := strings.CutPrefix(line, "@include"); ok {
			if f := strings.TrimSpace(rest); f != "" {
				p.add(ldso.Item{Kind: KindInclude, Source: source, Value: f, Path: filepath.Join(filepath.Dir(source), f)})
			}
			return
		}
		fields := pamFields(line)
		if withService && len(fields) > 0 {
			fields = fields[1:]
		}
		if len(fields) < 3 {
			return // not a module line
		}
		module, args := fields[2], fields[3:]
		path := findIn(pamDirs, module)
		p.add(ldso.Item{Kind: KindModule, Source: source, Value: module, Path: path})
		if filepath.Base(module) == "pam_exec.so" {
			exposes, prog := false, ""
			for _, a := range args {
				switch {
				case a == "expose_authtok":
					exposes = true
				case prog == "" && strings.HasPrefix(a, "/"):
					prog = a
				}
			}
			if exposes {
				p.add(ldso.Item{Kind: KindPAMExecAuthtok, Source: source, Value: strings.Join(args, " "), Path: prog})
			}
		}
	})
	return p
}

// pamFields splits a PAM line on blanks, keeping a bracketed control
// ("[success=1 default=ignore]") as one field.
func pamFields(line string) []string {
	var out []string
	for line != "" {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			break
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				end = len(line) - 1
			}
			out = append(out, line[:end+1])
			line = line[end+1:]
			continue
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
	return out
}

// nssBuiltin are the sources glibc (2.34 and later) has built in: no
// module is loaded for them.
var nssBuiltin = map[string]bool{"files": true, "dns": true}

// ParseNSSwitch reads /etc/nsswitch.conf: "database: source [ACTION]
// source ...". Each source other than the built-in ones is a module,
// libnss_SOURCE.so.2, that every program looking a name up loads.
func ParseNSSwitch(source string, b []byte) Parsed {
	var p Parsed
	lines(b, func(line string) {
		db, rest, ok := strings.Cut(line, ":")
		if !ok {
			return
		}
		for _, f := range pamFields(rest) {
			if f == "" || f[0] == '[' || nssBuiltin[f] {
				continue
			}
			p.add(ldso.Item{Kind: KindNSS, Source: source, Value: strings.TrimSpace(db) + ":" + f, Path: findIn(libDirs, "libnss_"+f+".so.2")})
		}
	})
	return p
}

// ParseSudoConf reads /etc/sudo.conf: "Plugin NAME PATH [args]" lines load
// PATH into sudo, and "Path noexec PATH" is preloaded into the commands
// sudo runs with noexec.
func ParseSudoConf(source string, b []byte) Parsed {
	var p Parsed
	lines(b, func(line string) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "Plugin":
			p.add(ldso.Item{Kind: KindModule, Source: source, Value: f[1] + " " + f[2], Path: findIn(sudoDirs, f[2])})
		case len(f) >= 3 && f[0] == "Path" && f[1] == "noexec":
			p.add(ldso.Item{Kind: ldso.Preload, Source: source, Value: f[2], Path: findIn(sudoDirs, f[2])})
		}
	})
	return p
}

// ParseSSHConf reads ssh_config or sshd_config for the options that load a
// library into ssh or sshd (PKCS11Provider, SecurityKeyProvider) and for
// Include lines. Keywords are case-insensitive and may be separated from
// their value by "=".
func ParseSSHConf(source string, b []byte) Parsed {
	var p Parsed
	lines(b, func(line string) {
		k, v, ok := strings.Cut(strings.Replace(line, "=", " ", 1), " ")
		if !ok {
			k, v, _ = strings.Cut(line, "\t")
		}
		v = unquote(strings.TrimSpace(v))
		if v == "" {
			return
		}
		switch strings.ToLower(k) {
		case "pkcs11provider", "securitykeyprovider":
			if v != "none" && v != "internal" {
				p.add(ldso.Item{Kind: KindModule, Source: source, Value: v, Path: v})
			}
		case "include":
			for _, g := range strings.Fields(v) {
				if !strings.HasPrefix(g, "/") {
					g = filepath.Join(filepath.Dir(source), g)
				}
				p.add(ldso.Item{Kind: KindInclude, Source: source, Value: g, Path: g})
			}
		}
	})
	return p
}
