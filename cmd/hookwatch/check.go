package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/audit"
	"github.com/hookwatch/hookwatch/sensor/daemon"
)

// errCannotRun is check's verdict when no collector can run here.
var errCannotRun = errors.New("hookwatch cannot run on this host (see above)")

// checkCommand is the preflight: what the kernel offers, what hookwatch
// has, and which collector would run and why.
func checkCommand(args []string, stdout io.Writer) error {
	rf := newRunFlags("hookwatch check")
	if err := rf.parse(args); err != nil || helpAsked(args) {
		return err
	}
	line := func(k, v string) { fmt.Fprintf(stdout, "%-18s %s\n", k, v) }
	fail := false

	cfg, err := rf.load()
	if err != nil {
		line("configuration", "ERROR: "+err.Error())
		return usageError{err}
	}
	line("configuration", "ok ("+rf.file+")")
	snap, err := daemon.Build(cfg)
	if ce := (daemon.ConfigError{}); errors.As(err, &ce) {
		line("rules", "ERROR: "+err.Error())
		return usageError{err}
	} else if err != nil {
		line("sigma rules", "ERROR: "+err.Error())
		return err
	}
	rs, dets := snap.Facts, snap.Detections
	src := "built in"
	if cfg.Rules.Facts != "" {
		src = cfg.Rules.Facts
	}
	line("rules", fmt.Sprintf("ok (%s: %d credential programs, %d loader variables)", src, len(rs.CredentialPrograms), len(rs.LoaderVariables)))
	line("sigma rules", fmt.Sprintf("%d in force, %d allowlist entries (user files in %q)", len(dets.Sigma.Rules()), len(dets.Allow.Entries()), cfg.Rules.Dir))
	for _, e := range dets.UserErrors {
		line("sigma rules", "ERROR: "+e.Error())
		fail = true
	}

	var u unix.Utsname
	unix.Uname(&u)
	line("kernel", string(bytes.TrimRight(u.Release[:], "\x00")))
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
		line("BTF", "yes (/sys/kernel/btf/vmlinux)")
	} else {
		line("BTF", "NO: CO-RE relocations need /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")
		fail = true
	}
	line("privileges", privileges())
	line("tracefs", tracefs())
	for _, f := range []struct {
		name string
		have func() error
	}{
		{"ring buffer", func() error { return features.HaveMapType(ebpf.RingBuf) }},
		{"task storage", func() error { return features.HaveMapType(ebpf.TaskStorage) }},
		{"tracepoints", func() error { return features.HaveProgramType(ebpf.TracePoint) }},
		{"bpf_loop", func() error { return features.HaveProgramHelper(ebpf.TracePoint, asm.FnLoop) }},
		{"bpf_find_vma", func() error { return features.HaveProgramHelper(ebpf.TracePoint, asm.FnFindVma) }},
	} {
		if err := f.have(); err != nil {
			line(f.name, "NO: "+err.Error())
			fail = true
		} else {
			line(f.name, "yes")
		}
	}

	// The definitive test: load, verify and attach every program (or set
	// up the audit collector), then let go.
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	why := "collector: audit in the configuration"
	if cfg.Collector != "audit" {
		pr, err := daemon.LoadProbe(cfg, rs, quiet)
		if err == nil {
			pr.Close()
			line("collector", "ebpf: every program loads, verifies and attaches")
			return nil
		}
		why = "eBPF does not load here: " + firstLine(err.Error())
		if cfg.Collector == "ebpf" {
			line("collector", "none: "+why)
			return errCannotRun
		}
	}
	acfg := daemon.AuditConfig(cfg, rs)
	acfg.LockWait = 0 // a running hookwatch keeps its rules: check must not take them away
	ac, err := audit.New(acfg, quiet)
	if errors.Is(err, audit.ErrInUse) {
		line("collector", "audit ("+why+"): in use by the running hookwatch")
		if fail {
			return errCannotRun
		}
		return nil
	}
	if err != nil {
		line("collector", "none: "+why+"; the audit subsystem is unavailable too: "+firstLine(err.Error()))
		return errCannotRun
	}
	ac.Close()
	line("collector", "audit ("+why+"): sees execs, loader configuration writes, ptrace and the libraries credential programs open; environments (and other processes' libraries) are read from /proc, racing short-lived processes")
	if fail {
		return errCannotRun
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func privileges() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown: " + err.Error()
	}
	var eff uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%x", &eff)
		}
	}
	// What each is for: packaging/hookwatch.service.
	need := map[string]uint{"CAP_BPF": 39, "CAP_PERFMON": 38, "CAP_SYS_ADMIN": 21, "CAP_SYS_PTRACE": 19, "CAP_DAC_READ_SEARCH": 2}
	var missing []string
	for _, n := range []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"} {
		if eff&(1<<need[n]) == 0 {
			missing = append(missing, n)
		}
	}
	who := fmt.Sprintf("uid %d", os.Geteuid())
	if os.Geteuid() == 0 {
		who = "root"
	}
	if len(missing) > 0 {
		return who + ", MISSING " + strings.Join(missing, " ")
	}
	return who + ", every capability needed"
}

func tracefs() string {
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if unix.Statfs(d, &st) == nil && st.Type == 0x74726163 {
			return "mounted at " + d
		}
	}
	return "not mounted (hookwatch mounts it at /sys/kernel/tracing)"
}

// configCommand: hookwatch config check [FILE].
func configCommand(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{errors.New("usage: hookwatch config check [FILE]")}
	}
	rf := newRunFlags("hookwatch config check")
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		rest = append([]string{"-config", rest[0]}, rest[1:]...)
	}
	if err := rf.parse(rest); err != nil || helpAsked(rest) {
		return err
	}
	cfg, err := rf.load()
	if err != nil {
		return usageError{err}
	}
	snap, err := daemon.Build(cfg)
	if ce := (daemon.ConfigError{}); errors.As(err, &ce) {
		return usageError{err}
	} else if err != nil {
		return err
	}
	if errs := snap.Detections.UserErrors; len(errs) > 0 {
		return usageError{fmt.Errorf("rules directory: %w", errors.Join(errs...))}
	}
	fmt.Fprintf(stdout, "%s: ok\n", rf.file)
	return nil
}
