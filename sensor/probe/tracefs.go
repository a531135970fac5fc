package probe

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const tracefsMagic = 0x74726163

// ensureTracefs mounts tracefs where cilium/ebpf looks for tracepoint ids
// when nothing has mounted it yet (minimal hosts and VMs without systemd do
// not). Without it, attaching to a tracepoint fails.
func ensureTracefs() error {
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == tracefsMagic {
			return nil
		}
	}
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mounting tracefs on /sys/kernel/tracing: %w", err)
	}
	return nil
}
