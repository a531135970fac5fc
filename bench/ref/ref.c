//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// Reference programs for the benchmark, measured in the same run as
// hookwatch's: an empty program on each of hookwatch's busiest tracepoints
// (the floor), and a minimal sensor that reads the filename of every exec
// and submits it to a ring buffer, waking the reader each time (what
// hookwatch's in-kernel filtering avoids).

#include "../../bpf/headers/vmlinux.h"
#include "../../bpf/headers/bpf_helpers.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} ref_events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int empty_exec(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_mmap")
int empty_mmap(void *ctx) { return 0; }

SEC("tracepoint/sched/sched_process_exec")
int submit_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	char name[256];
	unsigned int loc = ctx->__data_loc_filename & 0xffff;
	bpf_probe_read_kernel_str(name, sizeof(name), (void *)ctx + loc);
	bpf_ringbuf_output(&ref_events, name, sizeof(name), BPF_RB_FORCE_WAKEUP);
	return 0;
}
