package detect

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// Libraries a credential program loads because its own configuration or
// command line names them: sudo's plugins (sudo.conf, or sudoers.so when it
// names none), ssh's PKCS#11 and security key providers (ssh_config, -I,
// -D, -s, -S, -P, -o PKCS11Provider=). Such a library is expected only when
// its package vouches for its bytes: a provider in /tmp named with -I is
// still judged as the attacker's choice it is.

// defaultSudoPlugins is what sudo loads when sudo.conf names no plugin.
var defaultSudoPlugins = []string{"/usr/libexec/sudo/sudoers.so", "/usr/lib/sudo/sudoers.so"}

// configFile is a configuration file read once per change (size, mtime),
// looked at no more than once per recheck: an ssh storm asked for every
// library of every exec. A second's delay errs safe: what the file names
// is expected only when its package vouches for its bytes.
type configFile struct {
	mu      sync.Mutex
	path    string
	kind    string
	size    int64
	mtime   time.Time
	checked time.Time
	paths   map[string]bool
}

const recheck = time.Second

func (c *configFile) modules() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.checked) < recheck {
		return c.paths
	}
	c.checked = now
	fi, err := os.Stat(c.path)
	if err != nil {
		c.paths = nil
		return nil
	}
	if c.paths != nil && fi.Size() == c.size && fi.ModTime().Equal(c.mtime) {
		return c.paths
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return nil
	}
	c.paths, c.size, c.mtime = map[string]bool{}, fi.Size(), fi.ModTime()
	for _, it := range loaderconf.Parse(c.kind, c.path, b).Items {
		if it.Kind == loaderconf.KindModule || (c.kind == "sudoconf" && it.Path != "") {
			c.paths[realPath(it.Path)] = true
		}
	}
	return c.paths
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// purposes holds the configuration files credential programs read.
type purposes struct {
	sudo, ssh configFile
}

func newPurposes() *purposes {
	return &purposes{
		sudo: configFile{path: "/etc/sudo.conf", kind: "sudoconf"},
		ssh:  configFile{path: "/etc/ssh/ssh_config", kind: "sshconf"},
	}
}

// onPurpose reports whether p's configuration or command line names lib.
func (pu *purposes) onPurpose(p *proctable.Process, lib string) bool {
	// The library's real path only when something names a library to
	// compare it with: resolving it walks every link, and most programs
	// name none.
	real := ""
	is := func(named string) bool {
		if real == "" {
			real = realPath(lib)
		}
		return realPath(named) == real
	}
	name := filepath.Base(p.Executable)
	switch name {
	case "sudo", "sudoedit":
		plugins := pu.sudo.modules()
		if len(plugins) == 0 {
			for _, d := range defaultSudoPlugins {
				if is(d) {
					return true
				}
			}
			return false
		}
		return plugins[realPath(lib)]
	case "ssh", "scp", "sftp", "ssh-add", "ssh-agent", "ssh-keygen", "ssh-pkcs11-helper", "ssh-sk-helper":
		if mods := pu.ssh.modules(); len(mods) > 0 && mods[realPath(lib)] {
			return true
		}
		for _, a := range providerArgs(p.Args) {
			if is(a) {
				return true
			}
		}
	}
	return false
}

// providerArgs are the providers an ssh tool's command line names: -I (ssh),
// -D (ssh-keygen), -s/-e (ssh-add), -S (security key provider), -P
// (ssh-agent's allowed providers, a pattern list) and -o
// PKCS11Provider=/SecurityKeyProvider=.
func providerArgs(args []string) []string {
	var out []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		for _, flag := range []string{"-I", "-D", "-s", "-e", "-S", "-P"} {
			switch {
			case a == flag && i+1 < len(args):
				out = append(out, strings.Split(args[i+1], ",")...)
			case strings.HasPrefix(a, flag) && len(a) > 2 && a[2] == '/':
				out = append(out, a[2:])
			}
		}
		if a == "-o" && i+1 < len(args) {
			k, v, _ := strings.Cut(args[i+1], "=")
			if strings.EqualFold(k, "PKCS11Provider") || strings.EqualFold(k, "SecurityKeyProvider") {
				out = append(out, v)
			}
		}
	}
	return out
}
