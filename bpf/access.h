/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reaching into a credential process (included by hookwatch.c, one object):
 * ptrace, process_vm_readv/writev, and opening /proc/PID/mem. The Linux kin
 * of the seed's "remote thread into LSASS" and "LSASS memory opened"
 * detections (ATT&CK T1055.008, T1055.009, T1003.007).
 *
 * Only a call that succeeded on a watched credential process (or the loader
 * run directly) is delivered, once per caller, target and operation; calls on
 * anything else are counted (STAT_ACCESS_OTHER) and return. ptrace and
 * process_vm_* are rare system calls, so their enter handlers may look the
 * target up. Opens are common: the open exit handler (hookwatch.c) tests the
 * opened file's filesystem, and only procfs files come here.
 */

#define PROC_SUPER_MAGIC 0x9fa0
#define FMODE_WRITE 0x2
#define FMODE_UNSIGNED_OFFSET 0x2000 /* before 6.12 */
#define FOP_UNSIGNED_OFFSET (1 << 5)

#define PTRACE_TRACEME 0
#define PTRACE_PEEKTEXT 1
#define PTRACE_PEEKDATA 2
#define PTRACE_PEEKUSR 3
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_GETREGS 12
#define PTRACE_SETREGS 13
#define PTRACE_GETFPREGS 14
#define PTRACE_SETFPREGS 15
#define PTRACE_ATTACH 16
#define PTRACE_SETFPXREGS 19
#define PTRACE_GETREGSET 0x4204
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

/* What the caller did to the target. */
enum access_op {
	ACC_ATTACH = 1,   /* PTRACE_ATTACH */
	ACC_SEIZE,        /* PTRACE_SEIZE */
	ACC_PEEK,         /* PTRACE_PEEK*, GETREGS, GETREGSET: memory or registers read */
	ACC_POKE,         /* PTRACE_POKE*: memory written */
	ACC_SETREGS,      /* PTRACE_SETREGS, SETREGSET, SETFPREGS: registers changed */
	ACC_VM_READ,      /* process_vm_readv */
	ACC_VM_WRITE,     /* process_vm_writev */
	ACC_MEM_READ,     /* /proc/PID/mem opened read-only */
	ACC_MEM_WRITE,    /* /proc/PID/mem opened for writing */
	ACC_TRACED_EXEC,  /* a credential program exec'd while traced (set by userspace) */
};

enum access_flag {
	ACC_VPID = 1 << 0,   /* target is a pid in the caller's pid namespace, unresolved */
	ACC_PARENT = 1 << 1, /* the caller is the target's parent or its tracer */
};

/* The fixed part of an access record; the caller's executable path follows. */
struct access_hdr {
	u8 kind;
	u8 op;           /* enum access_op */
	u8 target_watch; /* the target's watch_reason bits; 0 when unresolved */
	u8 flags;        /* enum access_flag bits */
	u32 target;      /* the thread or process named, as the caller named it */
	u32 target_tgid; /* its process, when the kernel knows it (else 0) */
	u16 path_len;
	u16 pad;
	s64 ret;         /* the system call's result */
	struct proc_info proc;
	u8 ancestors[ANCESTORS][16];
};

struct access_event {
	struct access_hdr h;
	u8 data[PATH_BUF];
};

const struct access_hdr *unused_access_hdr __attribute__((unused));
const enum access_op *unused_access_op __attribute__((unused));
const enum access_flag *unused_access_flag __attribute__((unused));

/* hookwatch's own tgid, set before load: its /proc reads are never reported. */
volatile const u32 self_tgid;

/* A ptrace or process_vm_* call on a watched target, from enter to exit. */
struct access_intent {
	u32 target;
	u8 op;
	u8 watch;
	u8 flags;
	u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct access_intent);
} access_intent SEC(".maps");

/* Reported once per caller (by start time), target and operation. */
struct access_key {
	u64 caller_start;
	u32 caller;
	u32 target;
	u32 op;
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct access_key);
	__type(value, u8);
} accessed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct access_event);
} access_scratch SEC(".maps");

static __always_inline bool watched_target(u8 w)
{
	return w & (WATCH_CREDENTIAL | WATCH_LOADER);
}

static __always_inline void emit_access(struct task_struct *task, u8 op, u32 target, u32 target_tgid,
					u8 watch, u8 flags, s64 ret)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct access_key k = {};
	k.caller_start = BPF_CORE_READ(task, group_leader, start_boottime);
	k.caller = tgid;
	k.target = target_tgid ? target_tgid : target;
	k.op = op;
	u8 one = 1;
	if (bpf_map_update_elem(&accessed, &k, &one, BPF_NOEXIST))
		return; /* reported already */

	struct access_event *ev = only_elem(&access_scratch);
	if (!ev)
		return;
	__builtin_memset(&ev->h, 0, sizeof(ev->h));
	ev->h.kind = KIND_ACCESS;
	ev->h.op = op;
	ev->h.target_watch = watch;
	ev->h.flags = flags;
	ev->h.target = target;
	ev->h.target_tgid = target_tgid;
	ev->h.ret = ret;
	fill_proc(&ev->h.proc, task);
	fill_ancestors(ev->h.ancestors, task);
	/*
	 * The caller's executable, resolved here: a reader that exits at once
	 * is gone before userspace could read /proc.
	 */
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	u32 len = 0;
	if (exe) {
		bool trunc = false;
		len = copy_path(&exe->f_path, ev->data, &trunc);
		if (len > PATH_BUF)
			len = PATH_BUF;
	}
	ev->h.path_len = len;
	u64 size = sizeof(ev->h) + (len & (PATH_BUF - 1));
	if (size > sizeof(*ev))
		size = sizeof(*ev);
	if (bpf_ringbuf_output(&events, ev, size, BPF_RB_FORCE_WAKEUP))
		count(STAT_LOST_ACCESS);
	else
		count(STAT_ACCESS_EVENTS);
}

/*
 * At a ptrace or process_vm_* call: is the target watched? A caller in the
 * initial pid namespace names global ids, looked up in `watched` (threads of
 * a watched process are in it too, through the fork handler). A caller in
 * another pid namespace names ids only its namespace knows: such calls are
 * rare and go to userspace unresolved (ACC_VPID), which maps them.
 */
static __always_inline void stash_access(u8 op, u32 target)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32;
	if (tgid == self_tgid || target == 0)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	u8 watch = 0, flags = 0;
	if (BPF_CORE_READ(task, thread_pid, level) == 0) {
		if (target == tgid || target == (u32)id)
			return; /* itself */
		u8 *w = bpf_map_lookup_elem(&watched, &target);
		if (!w || !watched_target(*w)) {
			count(STAT_ACCESS_OTHER);
			return;
		}
		watch = *w;
	} else {
		flags |= ACC_VPID;
	}
	struct access_intent *ai = bpf_task_storage_get(&access_intent, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ai)
		return;
	ai->target = target;
	ai->op = op;
	ai->watch = watch;
	ai->flags = flags;
}

static __always_inline int access_exit(struct syscall_exit_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct access_intent *ai = bpf_task_storage_get(&access_intent, task, 0, 0);
	if (!ai || !ai->op)
		return 0;
	u8 op = ai->op;
	ai->op = 0;
	if (ctx->ret < 0) {
		count(STAT_ACCESS_DENIED);
		return 0;
	}
	emit_access(task, op, ai->target, 0, ai->watch, ai->flags, ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int handle_enter_ptrace(struct syscall_enter_ctx *ctx)
{
	u8 op;
	switch (ctx->args[0]) {
	case PTRACE_ATTACH:
		op = ACC_ATTACH;
		break;
	case PTRACE_SEIZE:
		op = ACC_SEIZE;
		break;
	case PTRACE_PEEKTEXT:
	case PTRACE_PEEKDATA:
	case PTRACE_PEEKUSR:
	case PTRACE_GETREGS:
	case PTRACE_GETFPREGS:
	case PTRACE_GETREGSET:
		op = ACC_PEEK;
		break;
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
	case PTRACE_POKEUSR:
		op = ACC_POKE;
		break;
	case PTRACE_SETREGS:
	case PTRACE_SETFPREGS:
	case PTRACE_SETFPXREGS:
	case PTRACE_SETREGSET:
		op = ACC_SETREGS;
		break;
	default:
		return 0; /* continue, detach, options, ...: nothing read or written */
	}
	stash_access(op, ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int handle_exit_ptrace(struct syscall_exit_ctx *ctx) { return access_exit(ctx); }

SEC("tracepoint/syscalls/sys_enter_process_vm_readv")
int handle_enter_vm_readv(struct syscall_enter_ctx *ctx)
{
	stash_access(ACC_VM_READ, ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_process_vm_readv")
int handle_exit_vm_readv(struct syscall_exit_ctx *ctx) { return access_exit(ctx); }

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int handle_enter_vm_writev(struct syscall_enter_ctx *ctx)
{
	stash_access(ACC_VM_WRITE, ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_process_vm_writev")
int handle_exit_vm_writev(struct syscall_exit_ctx *ctx) { return access_exit(ctx); }

/*
 * After an open resolved to a procfs file: if it is a /proc/PID/mem (or
 * /proc/PID/task/TID/mem) of a watched process other than the caller's own,
 * report it. The open itself passed the kernel's ptrace access check.
 */
static __always_inline void proc_mem_opened(struct task_struct *task, struct file *f)
{
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	u32 n = 0;
	if (bpf_probe_read_kernel(&n, sizeof(n), name))
		return;
	if (n != 0x006d656d) /* "mem\0" */
		return;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	struct proc_inode *pi = (void *)ino - bpf_core_field_offset(struct proc_inode, vfs_inode);
	struct hlist_node *first = BPF_CORE_READ(pi, pid, tasks[0].first);
	if (!first)
		return; /* the process is gone */
	struct task_struct *t = (void *)first - bpf_core_field_offset(struct task_struct, pid_links);
	u32 ttgid = BPF_CORE_READ(t, tgid);
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (ttgid == tgid || tgid == self_tgid)
		return;
	u8 *w = bpf_map_lookup_elem(&watched, &ttgid);
	if (!w || !watched_target(*w)) {
		count(STAT_ACCESS_OTHER);
		return;
	}
	u8 flags = 0;
	if (BPF_CORE_READ(t, real_parent, tgid) == tgid || BPF_CORE_READ(t, parent, tgid) == tgid)
		flags |= ACC_PARENT;
	u8 op = (BPF_CORE_READ(f, f_mode) & FMODE_WRITE) ? ACC_MEM_WRITE : ACC_MEM_READ;
	emit_access(task, op, BPF_CORE_READ(t, pid), ttgid, *w, flags, 0);
}
