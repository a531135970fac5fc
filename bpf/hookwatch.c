//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// hookwatch's kernel side. Four jobs, all on plain tracepoints (no kprobes,
// no fentry, no LSM: those are not available everywhere hookwatch runs):
//
//  1. At every exec, after the new image is committed, decide in the kernel
//     whether userspace needs to hear about it: the program is a credential
//     program or the dynamic loader run directly (by comm, from a map that
//     userspace fills), or its environment carries a loader variable
//     (LD_PRELOAD, LD_AUDIT, ... from a list set before load). Only those
//     execs are delivered, with the executable path, argv and the matching
//     environment strings, unless userspace vouched for that very variable
//     on that program (vouch.h). No user code of the new image has run yet,
//     so nothing can have rewritten argv or the environment. (This file.)
//  2. Keep the set of watched processes (map `watched`), inherited over fork
//     and re-decided at exec. (This file.)
//  3. For watched processes only, report every file mapped executable: mmap
//     with PROT_EXEC, and mprotect that adds PROT_EXEC to a file mapping.
//     (mmap.h)
//  4. Report who writes, renames, links or deletes the loader's
//     configuration (files.h), and who reaches into a credential process's
//     memory: ptrace, process_vm_*, /proc/PID/mem (access.h).
//
// One object for bpf2go: the parts are headers included here, by job:
// types.h (records, limits, maps), task.h (task and path helpers), env.h
// (the environment scan), interp.h (the interpreter check), vouch.h, and the
// program families above. Everything else returns after a cheap test, so the
// common case costs almost nothing. Records the ring buffer cannot take are
// counted in `stats`.

#include "headers/vmlinux.h"
#include "headers/bpf_helpers.h"
#include "headers/bpf_core_read.h"

char LICENSE[] SEC("license") = "GPL";

#include "types.h"
#include "task.h"
#include "env.h"
#include "interp.h"
#include "vouch.h"

/* ---- exec ------------------------------------------------------------- */

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	char comm[16] = {};
	u8 watch = 0;

	count(STAT_EXECS);
	bpf_get_current_comm(comm, sizeof(comm));
	u8 *nw = bpf_map_lookup_elem(&watched_names, comm);
	if (nw)
		watch = *nw;

	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct env_scan s = {};
	s.start = BPF_CORE_READ(mm, env_start);
	s.end = BPF_CORE_READ(mm, env_end);
	if (n_env_prefixes > 0 && s.end > s.start)
		bpf_loop(ENV_CHUNKS, env_scan_chunk, &s, 0);
	if (s.n > 0)
		watch |= WATCH_LOADER_ENV;
	if (s.flags & EXEC_ENV_TRUNC)
		count(STAT_ENV_TRUNC);

	struct file *interp = NULL;
	if (check_interp) {
		u16 f = interp_check(task, mm, &interp);
		if (f) {
			s.flags |= f;
			watch |= WATCH_LOADER;
		}
	}

	if (watch == WATCH_LOADER_ENV && s.n == 1 && !(s.flags & (EXEC_ENV_TRUNC | EXEC_ENV_FAULT)) &&
	    vouched_exec(comm)) {
		count(STAT_VOUCHED);
		bpf_map_delete_elem(&watched, &tgid);
		return 0;
	}

	if (!watch) {
		/* A new image that is not ours to watch: forget any inherited mark. */
		bpf_map_delete_elem(&watched, &tgid);
		/*
		 * An environment we could not scan whole goes to userspace,
		 * which reads /proc/PID/environ: padding the environment must
		 * not hide a loader variable.
		 */
		if (!(s.flags & (EXEC_ENV_TRUNC | EXEC_ENV_FAULT)))
			return 0;
	} else if (bpf_map_update_elem(&watched, &tgid, &watch, BPF_ANY)) {
		count(STAT_WATCH_FULL);
	}

	struct exec_event *ev = only_elem(&exec_scratch);
	if (!ev)
		return 0;

	ev->h.kind = KIND_EXEC;
	ev->h.watch = watch;
	ev->h.flags = s.flags;
	if ((watch & (WATCH_CREDENTIAL | WATCH_LOADER)) && BPF_CORE_READ(task, ptrace))
		ev->h.flags |= EXEC_PTRACED;
	ev->h.root_dev = 0;
	ev->h.root_ino = 0;
	if (other_root(task, &ev->h.root_dev, &ev->h.root_ino))
		ev->h.flags |= EXEC_OTHER_ROOT;
	fill_proc(&ev->h.proc, task);
	fill_cgroup(ev->h.cgroup, task);

	struct file *exe = BPF_CORE_READ(mm, exe_file);
	bool trunc = false;
	u64 off = 0;
	if (exe) {
		off = copy_path(&exe->f_path, ev->data, &trunc);
		struct inode *inode = BPF_CORE_READ(exe, f_inode);
		ev->h.exe_ino = BPF_CORE_READ(inode, i_ino);
		ev->h.exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
		fill_version(&ev->h.exe_ver, inode);
	}
	if (trunc)
		ev->h.flags |= EXEC_PATH_TRUNC;
	if (off > PATH_BUF)
		off = PATH_BUF;
	ev->h.path_len = off;

	u64 arg_start = BPF_CORE_READ(mm, arg_start);
	u64 arg_end = BPF_CORE_READ(mm, arg_end);
	u64 alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen > ARGV_BUF) {
		alen = ARGV_BUF;
		ev->h.flags |= EXEC_ARGV_TRUNC;
	}
	if (bpf_probe_read_user(&ev->data[off], alen, (void *)arg_start))
		alen = 0;
	ev->h.argv_len = alen;
	off += alen;

	u64 elen = 0;
	for (int k = 0; k < MAX_ENVVARS; k++) {
		if (k >= s.n)
			break;
		if (off > PATH_BUF + ARGV_BUF)
			break;
		if (elen > (MAX_ENVVARS - 1) * ENVVAR_BUF)
			break;
		u32 key = k;
		u64 *addr = bpf_map_lookup_elem(&env_matches, &key);
		if (!addr)
			break;
		long n = bpf_probe_read_user_str(&ev->data[off + elen], ENVVAR_BUF, (void *)*addr);
		if (n <= 0)
			continue;
		if (n == ENVVAR_BUF)
			ev->h.flags |= EXEC_ENVVAR_TRUNC;
		elen += n & (ENVVAR_BUF * 2 - 1);
	}
	ev->h.env_len = elen;
	ev->h.nenv = s.n;

	u64 ilen = 0;
	ev->h.interp_len = 0;
	if (interp) {
		u64 ioff = off + elen;
		if (ioff > PATH_BUF + ARGV_BUF + MAX_ENVVARS * ENVVAR_BUF)
			ioff = PATH_BUF + ARGV_BUF + MAX_ENVVARS * ENVVAR_BUF;
		bool itrunc = false;
		ilen = copy_path(&interp->f_path, &ev->data[ioff], &itrunc);
		if (ilen > PATH_BUF)
			ilen = PATH_BUF;
		ev->h.interp_len = ilen;
	}

	u64 size = sizeof(ev->h) + off + elen + ilen;
	if (size > sizeof(*ev))
		size = sizeof(*ev);
	if (bpf_ringbuf_output(&events, ev, size, wake_flags(true)))
		count(STAT_LOST_EXEC);
	else
		count(STAT_EXEC_EVENTS);
	return 0;
}

/* ---- fork and exit: the watched set follows the process tree ---------- */

SEC("tracepoint/sched/sched_process_fork")
int handle_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	u32 parent = bpf_get_current_pid_tgid() >> 32;
	u8 *w = bpf_map_lookup_elem(&watched, &parent);
	if (!w)
		return 0;
	/*
	 * Threads land here too (child_pid is then a thread id that is never
	 * looked up as a tgid); the exit handler removes them again.
	 */
	u32 child = ctx->child_pid;
	u8 v = *w | WATCH_INHERITED;
	if (bpf_map_update_elem(&watched, &child, &v, BPF_ANY))
		count(STAT_WATCH_FULL);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int handle_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 pid = (u32)id, tgid = id >> 32;
	bool group_dead = pid == tgid;

	if (bpf_core_field_exists(ctx->group_dead))
		group_dead = BPF_CORE_READ(ctx, group_dead);
	if (pid != tgid)
		bpf_map_delete_elem(&watched, &pid);
	if (group_dead)
		bpf_map_delete_elem(&watched, &tgid);
	return 0;
}

#include "mmap.h"
#include "files.h"
