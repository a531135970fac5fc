package audit

// hookwatch's audit rules: which it installs, and how it tells its own
// from the admin's.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"
	"github.com/hookwatch/hookwatch/rules"
)

// watchedExecutables are the installed credential programs and loaders,
// by real path: audit's exe filter compares the file, not its name.
func (c *Collector) watchedExecutables() []string {
	var out []string
	seen := map[string]bool{}
	for _, name := range append(append([]string{}, c.cfg.CredentialPrograms...), c.cfg.LoaderNames...) {
		for _, dir := range rules.ProgramDirs {
			p, err := filepath.EvalSymlinks(filepath.Join(dir, name))
			if err != nil || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// rules are hookwatch's audit rules, all tagged with Key or LibKey.
func (c *Collector) rules() []string {
	var rs []string
	exes := c.watchedExecutables()
	if c.cfg.WatchedOnly {
		for _, p := range exes {
			rs = append(rs, "-a always,exit -F arch=b64 -S execve,execveat -F exe="+p+" -k "+Key)
		}
	} else {
		rs = append(rs, "-a always,exit -F arch=b64 -S execve,execveat -k "+Key)
	}
	// The libraries a watched program opens, race-free: one record per
	// successful loader-style open, by the watched executables only.
	for _, p := range exes {
		rs = append(rs, "-a always,exit -F arch=b64 -S openat -F a2="+loaderOpenFlags+" -F success=1 -F exe="+p+" -k "+LibKey)
	}
	rs = append(rs,
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x10 -k "+Key,   // PTRACE_ATTACH
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x4206 -k "+Key, // PTRACE_SEIZE
		// Writes into another process and reads of its memory (not
		// PTRACE_PEEK*: a tracer issues thousands), successful only.
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x4 -F success=1 -k "+Key,    // PTRACE_POKETEXT
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x5 -F success=1 -k "+Key,    // PTRACE_POKEDATA
		"-a always,exit -F arch=b64 -S ptrace -F a0=0xd -F success=1 -k "+Key,    // PTRACE_SETREGS
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x4205 -F success=1 -k "+Key, // PTRACE_SETREGSET
		"-a always,exit -F arch=b64 -S process_vm_readv,process_vm_writev -F success=1 -k "+Key,
	)
	for _, p := range c.cfg.ConfigPaths {
		rs = append(rs, "-w "+p+" -p wa -k "+Key)
	}
	return rs
}

func (c *Collector) addRules() error {
	for _, text := range c.rules() {
		r, err := flags.Parse(text)
		if err != nil {
			return fmt.Errorf("audit rule %q: %w", text, err)
		}
		wire, err := rule.Build(r)
		if err != nil {
			return fmt.Errorf("audit rule %q: %w", text, err)
		}
		if err := c.control.AddRule(wire); err != nil && !strings.Contains(err.Error(), "exist") {
			return fmt.Errorf("adding audit rule %q: %w", text, err)
		}
	}
	return nil
}

// removeOurRules deletes the rules tagged with Key, and only those: the
// admin's rules and their order stay.
func (c *Collector) removeOurRules() (int, error) {
	rules, err := c.control.GetRules()
	if err != nil {
		return 0, fmt.Errorf("listing audit rules: %w", err)
	}
	n := 0
	for _, wire := range rules {
		text, err := rule.ToCommandLine(wire, false)
		if err != nil || !isOurs(text) {
			continue
		}
		if err := c.control.DeleteRule(wire); err != nil {
			return n, fmt.Errorf("removing audit rule %q: %w", text, err)
		}
		n++
	}
	return n, nil
}

// isOurs tells hookwatch's rules (key Key or LibKey) from anyone else's,
// including an admin's key that merely starts with "hookwatch".
func isOurs(ruleText string) bool {
	for _, f := range strings.Fields(ruleText) {
		for _, k := range []string{Key, LibKey} {
			if f == "key="+k || f == k {
				return true
			}
		}
	}
	return false
}
