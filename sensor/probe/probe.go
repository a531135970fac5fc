// Package probe loads hookwatch's BPF programs, attaches them to their
// tracepoints, and turns ring buffer records into events.
package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/event"
)

// pollInterval bounds how long a record that did not wake the reader waits.
const pollInterval = time.Second

// MaxLoaderVars is how many loader variable names the kernel can match.
const MaxLoaderVars = int(hookwatchLimitsLIMIT_LOADER_VARS)

// commLen is the kernel's TASK_COMM_LEN: comm keeps 15 bytes and a NUL.
const commLen = 16

// Config is what the kernel side needs before load.
type Config struct {
	// Credential programs by executable name; their execs are delivered and
	// their mappings reported.
	CredentialPrograms []string
	// Names of the dynamic loader when run directly (ld-linux-x86-64.so.2).
	LoaderNames []string
	// Environment variable names whose presence at exec is delivered
	// (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH, ...). At most MaxLoaderVars.
	LoaderVars []string
	// RingBufferBytes sizes the ring buffer: a power of two, at least a page.
	RingBufferBytes uint32
	// FilePrefixes are absolute path prefixes of the loader configuration
	// (at most MaxFilePrefixes, each at most 64 bytes): renames, unlinks,
	// links, symlinks and truncates naming one are reported.
	FilePrefixes []string
	// SystemInterpreters are the system's dynamic loaders; an executable
	// whose ELF interpreter is another file is reported. Empty: no check.
	SystemInterpreters []string
}

// MaxFilePrefixes is how many path prefixes the kernel matches.
const MaxFilePrefixes = int(hookwatchLimitsLIMIT_FILE_PREFIXES)

// maxPrefixLen is the longest prefix the kernel compares.
const maxPrefixLen = int(hookwatchLimitsLIMIT_PREFIX_BYTES)

// Probe is the loaded and attached kernel side.
type Probe struct {
	objs  hookwatchObjects
	links []link.Link
	rd    *ringbuf.Reader
	ring  *ringWaiter
	dec   decoder
	log   logrus.FieldLogger
}

// Load loads the BPF objects with cfg and attaches every program. The caller
// must Close the probe.
func Load(cfg Config, log logrus.FieldLogger) (*Probe, error) {
	if err := bpfPermitted(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("removing memlock limit: %w", err)
	}
	if err := ensureTracefs(); err != nil {
		return nil, err
	}
	spec, err := loadHookwatch()
	if err != nil {
		return nil, fmt.Errorf("reading BPF objects: %w", err)
	}
	if err := configure(spec, cfg); err != nil {
		return nil, err
	}

	p := &Probe{log: log, dec: newDecoder()}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("loading BPF objects: %+v", ve)
		}
		return nil, fmt.Errorf("loading BPF objects: %w", err)
	}
	if err := p.fillNames(cfg); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.fillInterps(cfg.SystemInterpreters); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.attach(); err != nil {
		p.Close()
		return nil, err
	}
	rd, err := ringbuf.NewReader(p.objs.Events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("opening ring buffer: %w", err)
	}
	p.rd = rd
	if p.ring, err = newRingWaiter(p.objs.Events.FD()); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func configure(spec *ebpf.CollectionSpec, cfg Config) error {
	if len(cfg.LoaderVars) > MaxLoaderVars {
		return fmt.Errorf("%d loader variables configured, the kernel matches at most %d", len(cfg.LoaderVars), MaxLoaderVars)
	}
	var prefix, mask [MaxLoaderVars]uint64
	for i, name := range cfg.LoaderVars {
		prefix[i], mask[i] = envPrefix(name)
	}
	for name, v := range map[string]any{
		"env_prefix":     prefix,
		"env_mask":       mask,
		"n_env_prefixes": uint32(len(cfg.LoaderVars)),
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	ring := uint32(8 << 20)
	if cfg.RingBufferBytes != 0 {
		ring = cfg.RingBufferBytes
		spec.Maps["events"].MaxEntries = ring
	}
	if err := spec.Variables["ringbuf_wake_bytes"].Set(uint64(ring / 4)); err != nil {
		return fmt.Errorf("setting ringbuf_wake_bytes: %w", err)
	}
	if len(cfg.FilePrefixes) > MaxFilePrefixes {
		return fmt.Errorf("%d file prefixes configured, the kernel matches at most %d", len(cfg.FilePrefixes), MaxFilePrefixes)
	}
	var words, masks [MaxFilePrefixes][8]uint64
	var nwords [MaxFilePrefixes]uint32
	for i, pre := range cfg.FilePrefixes {
		if !strings.HasPrefix(pre, "/") || len(pre) > maxPrefixLen {
			return fmt.Errorf("file prefix %q: must be absolute and at most %d bytes", pre, maxPrefixLen)
		}
		for b := 0; b < len(pre); b++ {
			words[i][b/8] |= uint64(pre[b]) << (8 * (b % 8))
			masks[i][b/8] |= 0xff << (8 * (b % 8))
		}
		nwords[i] = uint32((len(pre) + 7) / 8)
	}
	check := uint32(0)
	if len(cfg.SystemInterpreters) > 0 {
		check = 1
	}
	// hookwatch's own root, to tell a process chrooted elsewhere.
	var rootDev uint32
	var rootIno uint64
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err == nil {
		rootDev, rootIno = unix.Major(st.Dev)<<20|unix.Minor(st.Dev), st.Ino
	}
	for name, v := range map[string]any{
		"self_root_dev":     rootDev,
		"self_root_ino":     rootIno,
		"file_prefix":       words,
		"file_prefix_mask":  masks,
		"file_prefix_words": nwords,
		"n_file_prefixes":   uint32(len(cfg.FilePrefixes)),
		"check_interp":      check,
		"self_tgid":         uint32(os.Getpid()),
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	return nil
}

func kernelKey(id event.FileID) hookwatchFileKey {
	// The kernel keeps dev_t as major<<20 | minor.
	return hookwatchFileKey{Dev: unix.Major(id.Dev)<<20 | unix.Minor(id.Dev), Ino: id.Ino}
}

func (p *Probe) fillInterps(paths []string) error {
	for _, path := range paths {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			continue // not every architecture's loader exists here
		}
		if err := p.objs.SystemInterps.Put(kernelKey(event.FileID{Dev: st.Dev, Ino: st.Ino}), uint8(1)); err != nil {
			return fmt.Errorf("adding loader %s: %w", path, err)
		}
	}
	return nil
}

// SetWatchedFiles replaces the set of loader configuration files (by inode)
// and directories whose writes the kernel reports.
func (p *Probe) SetWatchedFiles(files, dirs []event.FileID) error {
	for _, m := range []struct {
		m   *ebpf.Map
		ids []event.FileID
	}{{p.objs.WatchedInodes, files}, {p.objs.WatchedDirs, dirs}} {
		want := map[hookwatchFileKey]bool{}
		for _, id := range m.ids {
			want[kernelKey(id)] = true
		}
		var k hookwatchFileKey
		var v uint8
		var stale []hookwatchFileKey
		it := m.m.Iterate()
		for it.Next(&k, &v) {
			if !want[k] {
				stale = append(stale, k)
			}
		}
		for _, k := range stale {
			_ = m.m.Delete(k)
		}
		for k := range want {
			if err := m.m.Put(k, uint8(1)); err != nil {
				return fmt.Errorf("watching file %d:%d: %w", k.Dev, k.Ino, err)
			}
		}
	}
	return nil
}

// envPrefix packs the first 8 bytes of "NAME=" into the little-endian word
// the kernel compares each environment string's head against, with a mask
// for names shorter than 8 bytes. Longer names are matched on their first 8
// bytes in the kernel and exactly in userspace.
func envPrefix(name string) (prefix, mask uint64) {
	s := name + "="
	for i := 0; i < 8 && i < len(s); i++ {
		prefix |= uint64(s[i]) << (8 * i)
		mask |= 0xff << (8 * i)
	}
	return prefix, mask
}

// commKey is the kernel's comm for an executable name: its first 15 bytes.
func commKey(name string) [commLen]byte {
	var k [commLen]byte
	copy(k[:commLen-1], name)
	return k
}

func (p *Probe) fillNames(cfg Config) error {
	return p.SetNames(cfg.CredentialPrograms, cfg.LoaderNames)
}

// SetNames replaces the credential program and loader names the kernel
// watches for at exec (a reload; the programs stay attached).
func (p *Probe) SetNames(credential, loaders []string) error {
	reasons := map[[commLen]byte]uint8{}
	for _, n := range credential {
		reasons[commKey(n)] |= uint8(hookwatchWatchReasonWATCH_CREDENTIAL)
	}
	for _, n := range loaders {
		reasons[commKey(n)] |= uint8(hookwatchWatchReasonWATCH_LOADER)
	}
	var k [commLen]byte
	var v uint8
	var stale [][commLen]byte
	it := p.objs.WatchedNames.Iterate()
	for it.Next(&k, &v) {
		if _, keep := reasons[k]; !keep {
			stale = append(stale, k)
		}
	}
	for _, k := range stale {
		_ = p.objs.WatchedNames.Delete(k)
	}
	for k, v := range reasons {
		if err := p.objs.WatchedNames.Put(k, v); err != nil {
			return fmt.Errorf("adding %q to watched names: %w", strings.TrimRight(string(k[:]), "\x00"), err)
		}
	}
	return nil
}

func (p *Probe) attach() error {
	for _, tp := range []struct {
		group, name string
		prog        *ebpf.Program
		optional    bool // the syscall does not exist on every architecture
	}{
		{"sched", "sched_process_exec", p.objs.HandleExec, false},
		{"sched", "sched_process_fork", p.objs.HandleFork, false},
		{"sched", "sched_process_exit", p.objs.HandleExit, false},
		{"syscalls", "sys_enter_mmap", p.objs.HandleMmap, false},
		{"syscalls", "sys_enter_mprotect", p.objs.HandleMprotect, false},
		{"syscalls", "sys_exit_openat", p.objs.HandleExitOpenat, false},
		{"syscalls", "sys_exit_openat2", p.objs.HandleExitOpenat2, true},
		{"syscalls", "sys_exit_open", p.objs.HandleExitOpen, true},
		{"syscalls", "sys_exit_creat", p.objs.HandleExitCreat, true},
		{"syscalls", "sys_enter_renameat2", p.objs.HandleRenameat2, false},
		{"syscalls", "sys_enter_renameat", p.objs.HandleRenameat, true},
		{"syscalls", "sys_enter_rename", p.objs.HandleRename, true},
		{"syscalls", "sys_enter_unlinkat", p.objs.HandleUnlinkat, false},
		{"syscalls", "sys_enter_unlink", p.objs.HandleUnlink, true},
		{"syscalls", "sys_enter_linkat", p.objs.HandleLinkat, false},
		{"syscalls", "sys_enter_link", p.objs.HandleLink, true},
		{"syscalls", "sys_enter_symlinkat", p.objs.HandleSymlinkat, false},
		{"syscalls", "sys_enter_symlink", p.objs.HandleSymlink, true},
		{"syscalls", "sys_enter_truncate", p.objs.HandleTruncate, false},
		{"syscalls", "sys_enter_ptrace", p.objs.HandleEnterPtrace, false},
		{"syscalls", "sys_exit_ptrace", p.objs.HandleExitPtrace, false},
		{"syscalls", "sys_enter_process_vm_readv", p.objs.HandleEnterVmReadv, false},
		{"syscalls", "sys_exit_process_vm_readv", p.objs.HandleExitVmReadv, false},
		{"syscalls", "sys_enter_process_vm_writev", p.objs.HandleEnterVmWritev, false},
		{"syscalls", "sys_exit_process_vm_writev", p.objs.HandleExitVmWritev, false},
	} {
		l, err := link.Tracepoint(tp.group, tp.name, tp.prog, nil)
		if err != nil {
			if tp.optional && (errors.Is(err, os.ErrNotExist) || errors.Is(err, ebpf.ErrNotSupported)) {
				p.log.WithField("tracepoint", tp.name).Debug("not on this architecture")
				continue
			}
			return fmt.Errorf("attaching tracepoint %s/%s: %w", tp.group, tp.name, err)
		}
		p.links = append(p.links, l)
	}
	return nil
}

// Watch marks a running process (or one of its threads) as watched, as if
// it had exec'd a watched program, for the reasons in why: the startup sweep
// uses it for processes found before the probe. A credential program marked
// so is a target whose memory accesses are reported.
func (p *Probe) Watch(pid uint32, why event.Watch) error {
	v := uint8(hookwatchWatchReasonWATCH_USERSPACE) | uint8(why)
	if err := p.objs.Watched.Update(pid, v, ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("marking pid %d watched: %w", pid, err)
	}
	return nil
}

// Run reads records until ctx is done or the probe is closed, handing each to
// h. Records it cannot decode are counted and logged, never fatal.
func (p *Probe) Run(ctx context.Context, h event.Handler) error {
	// At the end, read what is still in the ring (records that did not
	// wake the reader) before closing it: nothing is left behind unread.
	stop := context.AfterFunc(ctx, func() { p.Flush() })
	defer stop()
	var rec ringbuf.Record
	ready := func() bool { return p.rd.AvailableBytes() > 0 }
	for {
		// Mapping records do not wake the reader (see emit_map): look at
		// least every pollInterval.
		if !ready() {
			if err := p.ring.wait(pollInterval, ready); err != nil {
				return nil // closed
			}
		}
		// Then read what is there without blocking in the reader's own
		// epoll_wait (ringWaiter says why).
		p.rd.SetDeadline(time.Now())
		if err := p.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if errors.Is(err, ringbuf.ErrFlushed) {
				if ctx.Err() != nil {
					p.rd.Close()
					return nil
				}
				continue // a Flush asked for by a test
			}
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reading ring buffer: %w", err)
		}
		if err := p.dec.dispatch(rec.RawSample, h); err != nil {
			p.log.WithError(err).Warn("undecodable record")
		}
	}
}

// Flush makes the reader hand over every record in the ring now, also
// those that did not wake it.
func (p *Probe) Flush() error {
	err := p.rd.Flush()
	p.ring.wake()
	return err
}

// Close detaches the programs and frees the kernel objects.
func (p *Probe) Close() error {
	var errs []error
	if p.ring != nil {
		errs = append(errs, p.ring.close())
	}
	if p.rd != nil {
		errs = append(errs, p.rd.Close())
	}
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}
