package probe

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrBPFDenied is the cause when the kernel refuses the bpf() system call
// itself: nothing the sensor can retry its way out of.
var ErrBPFDenied = errors.New("bpf() not permitted")

// bpfPermitted asks bpf() a question every kernel answers with EINVAL (a
// map of no type), so that EPERM can only mean the call itself is refused.
// cilium/ebpf's memlock probe reports that case as a failure to set an
// rlimit, which sends the operator the wrong way.
func bpfPermitted() error {
	var attr [64]byte
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	if errno != unix.EPERM && errno != unix.ENOSYS {
		return nil
	}
	if errno == unix.ENOSYS {
		return fmt.Errorf("%w: the kernel has no bpf() (CONFIG_BPF_SYSCALL)", ErrBPFDenied)
	}
	return fmt.Errorf("%w: %s", ErrBPFDenied, whyDenied())
}

// whyDenied tells a seccomp filter from a missing capability, from what
// /proc/self/status says.
func whyDenied() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "a seccomp filter or a missing capability (CAP_BPF, or CAP_SYS_ADMIN)"
	}
	var seccomp bool
	var capEff uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			seccomp = strings.TrimSpace(v) == "2"
		}
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%x", &capEff)
		}
	}
	const capSysAdmin, capBPF = 21, 39
	hasCap := capEff&(1<<capBPF) != 0 || capEff&(1<<capSysAdmin) != 0
	switch {
	case seccomp && hasCap:
		return "a seccomp filter denies it (a container runtime's default profile, or the unit's SystemCallFilter=)"
	case !hasCap:
		return "the process lacks CAP_BPF (and CAP_SYS_ADMIN)"
	default:
		return "unprivileged BPF is disabled (kernel.unprivileged_bpf_disabled) or an LSM denies it"
	}
}
