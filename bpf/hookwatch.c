//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// hookwatch's kernel side. Three jobs, all on plain tracepoints (no kprobes,
// no fentry, no LSM: those are not available everywhere hookwatch runs):
//
//  1. At every exec, after the new image is committed, decide in the kernel
//     whether userspace needs to hear about it: the program is a credential
//     program or the dynamic loader run directly (by comm, from a map that
//     userspace fills), or its environment carries a loader variable
//     (LD_PRELOAD, LD_AUDIT, ... from a list set before load). Only those
//     execs are delivered, with the executable path, argv and the matching
//     environment strings. No user code of the new image has run yet, so
//     nothing can have rewritten argv or the environment.
//  2. Keep the set of watched processes (map `watched`), inherited over fork
//     and re-decided at exec.
//  3. For watched processes only, report every file mapped executable: mmap
//     with PROT_EXEC, and mprotect that adds PROT_EXEC to a file mapping.
//
// Everything else returns after a cheap test, so the common case costs almost
// nothing. Records the ring buffer cannot take are counted in `stats`.

#include "headers/vmlinux.h"
#include "headers/bpf_helpers.h"
#include "headers/bpf_core_read.h"

char LICENSE[] SEC("license") = "GPL";

#define PATH_BUF 4096 /* bytes of a resolved path we keep (PATH_MAX) */
#define PATH_MASK (PATH_BUF - 1)
#define PATH_DEPTH 48 /* path components and mount crossings walked */
#define ARGV_BUF 4096
#define ENVVAR_BUF 2048 /* bytes kept of one matching environment string */
#define MAX_ENVVARS 8
#define ENV_CHUNK 4096
#define ENV_CHUNKS 64 /* 256 KiB of environment scanned in the kernel */
#define ENV_BUF (ENV_CHUNK * 2)
#define ENV_MASK (ENV_BUF - 1)
#define MAX_PREFIXES 8

#define MAX_FILE_PREFIXES 16
#define PREFIX_WORDS 8 /* a watched path prefix is at most 64 bytes */
#define ANCESTORS 4
#define CGROUP_LEVELS 4 /* cgroup names kept, leaf first: enough to tell a container */
#define CGROUP_NAME 80 /* "docker-<64 hex digits>.scope" and its NUL */
#define AT_FDCWD -100
#define AT_PHDR 3
#define AT_BASE 7
#define AUXV_WORDS 56

/*
 * A kernel pointer read as a number, typed again for direct loads (the
 * verifier turns each into one instruction, not a helper call).
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define bpf_core_cast(ptr, type) ((type *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define VM_EXEC 0x4

/* Record kinds: the first byte of every ring buffer record. */
enum kind {
	KIND_EXEC = 1,
	KIND_MAP = 2,
	KIND_FILE = 3,
	KIND_ACCESS = 4,
};

/* What a process did to a loader configuration file. */
enum file_op {
	FOP_OPEN_WRITE = 1, /* opened for writing, creating or truncating */
	FOP_RENAME,         /* path is the old name, path2 the new */
	FOP_UNLINK,
	FOP_LINK,           /* path is the existing name, path2 the new link */
	FOP_SYMLINK,        /* path is the target text, path2 the new link */
	FOP_TRUNCATE,
};

/* Why a process is watched (the value of the `watched` map). */
enum watch_reason {
	WATCH_CREDENTIAL = 1 << 0, /* a credential program, by name */
	WATCH_LOADER = 1 << 1,     /* the dynamic loader run directly */
	WATCH_LOADER_ENV = 1 << 2, /* exec'd with a loader variable */
	WATCH_INHERITED = 1 << 3,  /* forked from a watched process */
	WATCH_USERSPACE = 1 << 4,  /* marked by the agent (startup sweep) */
};

enum exec_flag {
	EXEC_ARGV_TRUNC = 1 << 0,   /* argv longer than ARGV_BUF */
	EXEC_ENV_TRUNC = 1 << 1,    /* environment longer than the in-kernel scan */
	EXEC_ENVVAR_TRUNC = 1 << 2, /* a match cut at ENVVAR_BUF, or more than MAX_ENVVARS */
	EXEC_PATH_TRUNC = 1 << 3,   /* executable path cut */
	EXEC_ENV_FAULT = 1 << 4,    /* the environment could not be read */
	EXEC_ODD_INTERP = 1 << 5,   /* its ELF interpreter is not a system loader */
	EXEC_LOADERLIKE = 1 << 6,   /* no interpreter and position-independent: static-pie, or a copy of ld.so */
	EXEC_PTRACED = 1 << 7,      /* a watched program exec'd while traced (a debugger started it) */
};

enum map_flag {
	MAP_DELETED = 1 << 0,    /* the file has no links left */
	MAP_MEMFD = 1 << 1,      /* memory-backed: memfd_create */
	MAP_MPROTECT = 1 << 2,   /* made executable by mprotect, not mmap */
	MAP_PATH_TRUNC = 1 << 3, /* path cut */
};

enum stat_index {
	STAT_EXECS = 0,          /* every exec seen */
	STAT_EXEC_EVENTS,        /* execs delivered */
	STAT_MAP_EVENTS,         /* executable mappings delivered */
	STAT_LOST_EXEC,          /* exec records the ring buffer could not take */
	STAT_LOST_MAP,           /* mapping records the ring buffer could not take */
	STAT_WATCH_FULL,         /* processes that could not be marked watched */
	STAT_ENV_TRUNC,          /* environments too large to scan in the kernel */
	STAT_FILE_EVENTS,        /* loader configuration file operations delivered */
	STAT_LOST_FILE,          /* file records the ring buffer could not take */
	STAT_ACCESS_EVENTS,      /* accesses to a watched process's memory delivered */
	STAT_LOST_ACCESS,        /* access records the ring buffer could not take */
	STAT_ACCESS_OTHER,       /* ptrace, process_vm_*, /proc/PID/mem on unwatched processes */
	STAT_ACCESS_DENIED,      /* such calls on watched processes that failed */
	STAT_VOUCHED,            /* execs whose loader variable userspace vouched for: counted, not delivered */
	STAT_MAX,
};

struct proc_info {
	u64 ktime;      /* bpf_ktime_get_ns at the event */
	u64 start_time; /* the process's start, ns since boot (CLOCK_BOOTTIME, as /proc/PID/stat) */
	u32 pid;        /* thread id */
	u32 tgid;       /* process id */
	u32 ppid;
	u32 uid;
	u32 gid;
	u32 euid;
	u32 egid;
	u32 loginuid;
	u8 comm[16];
};

/* The fixed part of an exec record; data follows: path, argv, env. */
struct exec_hdr {
	u8 kind;
	u8 watch; /* enum watch_reason bits */
	u16 flags; /* enum exec_flag bits */
	u16 path_len;
	u16 argv_len;
	u16 env_len;
	u16 nenv;
	u16 interp_len;
	u16 pad;
	u32 exe_dev;
	u64 exe_ino;
	struct proc_info proc;
	/* The task's cgroup and its parents, leaf first ("<id>", "docker"):
	 * the container, told in the kernel because a short-lived process is
	 * gone before userspace could read /proc/PID/cgroup. */
	u8 cgroup[CGROUP_LEVELS][CGROUP_NAME];
};

#define EXEC_DATA (PATH_BUF + ARGV_BUF + MAX_ENVVARS * ENVVAR_BUF + PATH_BUF)

struct exec_event {
	struct exec_hdr h;
	u8 data[EXEC_DATA];
};

/* The fixed part of a mapping record; the path follows. */
struct map_hdr {
	u8 kind;
	u8 watch;
	u16 flags; /* enum map_flag bits */
	u16 path_len;
	u16 pad;
	u32 dev;
	u32 mode;
	u64 ino;
	u64 size;
	u64 addr;
	u64 prot;
	struct proc_info proc;
};

struct map_event {
	struct map_hdr h;
	u8 data[PATH_BUF];
};

/* The fixed part of a file record; path, then path2, follow. */
struct file_hdr {
	u8 kind;
	u8 op; /* enum file_op */
	u16 path_len;
	u16 path2_len;
	u16 pad;
	u32 dev;
	u32 open_flags;
	u64 ino;
	struct proc_info proc;
	u8 ancestors[ANCESTORS][16]; /* comm of parent, grandparent, ... */
	u8 cgroup[CGROUP_LEVELS][CGROUP_NAME]; /* the writer's container */
};

struct file_event {
	struct file_hdr h;
	u8 data[PATH_BUF * 2];
};

/* A file by device (kernel encoding) and inode. */
struct file_key {
	u32 dev;
	u32 pad;
	u64 ino;
};

/* Scratch space too large for the 512-byte BPF stack. */
struct path_buf {
	u8 b[PATH_BUF * 2];
};

struct env_buf {
	u8 b[ENV_BUF + 16];
};

/* Loader variable prefixes (first 8 bytes, masked), set before load. */
volatile const u64 env_prefix[MAX_PREFIXES];
volatile const u64 env_mask[MAX_PREFIXES];
volatile const u32 n_env_prefixes;

/*
 * Absolute path prefixes of the loader configuration (/etc/ld.so.preload,
 * /etc/systemd/system/, ...), as little-endian words with masks, for the
 * syscalls that name files by path (rename, unlink, link, symlink,
 * truncate). Opens are matched exactly by inode instead.
 */
volatile const u64 file_prefix[MAX_FILE_PREFIXES][PREFIX_WORDS];
volatile const u64 file_prefix_mask[MAX_FILE_PREFIXES][PREFIX_WORDS];
volatile const u32 file_prefix_words[MAX_FILE_PREFIXES];
volatile const u32 n_file_prefixes;
/* Unread bytes in the ring buffer above which a mapping record wakes the
 * reader (a quarter of the ring, set before load). */
volatile const u64 ringbuf_wake_bytes = 1 << 21;
/* Set when userspace filled system_interps. */
volatile const u32 check_interp;

/* Force the types into BTF so bpf2go can emit Go for them. */
const struct exec_hdr *unused_exec_hdr __attribute__((unused));
const struct map_hdr *unused_map_hdr __attribute__((unused));
const struct file_hdr *unused_file_hdr __attribute__((unused));
const enum file_op *unused_file_op __attribute__((unused));
const enum kind *unused_kind __attribute__((unused));
const enum watch_reason *unused_watch_reason __attribute__((unused));
const enum exec_flag *unused_exec_flag __attribute__((unused));
const enum map_flag *unused_map_flag __attribute__((unused));
const enum stat_index *unused_stat_index __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized from config before load */
} events SEC(".maps");

/* Processes whose executable mappings we report: tgid -> watch_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, u8);
} watched SEC(".maps");

/* comm (16 bytes, as the kernel sets it at exec) -> watch_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[16]);
	__type(value, u8);
} watched_names SEC(".maps");

/* The system's dynamic loaders, by file: a process whose interpreter is
 * another file is reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct file_key);
	__type(value, u8);
} system_interps SEC(".maps");

/* Loader configuration files that exist now, by file: an open for writing
 * through any name (a symlink, a hard link) is reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct file_key);
	__type(value, u8);
} watched_inodes SEC(".maps");

/* Directories whose files are loader configuration (/etc is one, for the
 * files that do not exist yet): a file opened for writing in one of them is
 * reported, and userspace keeps what it watches. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct file_key);
	__type(value, u8);
} watched_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct file_event);
} file_scratch SEC(".maps");

/*
 * Files already reported as mapped into an image (by mm, so a new image
 * after exec starts afresh): a library mapped in several segments, or
 * dlopen'd and dlclose'd in a loop, is one report, not hundreds.
 */
struct mapped_key {
	u64 mm;
	u32 tgid;
	u32 dev;
	u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mapped_key);
	__type(value, u8);
} mapped SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exec_event);
} exec_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct map_event);
} map_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct env_buf);
} env_scratch SEC(".maps");

/*
 * Verdicts the kernel reuses: a program (comm) whose only loader variable
 * is a string userspace judged and vouched for (an allowlisted preloader
 * on a program that handles no credentials: eatmydata on a build host,
 * jemalloc on a database). Such an exec is counted here, not delivered,
 * and its process is not watched. Userspace adds entries, reads and
 * reports the counts, and clears them all when anything they rest on
 * changes (a library file, the loader's configuration, the rules).
 */
#define VOUCH_LEN 128
struct vouch_key {
	u8 comm[16];
	u8 env[VOUCH_LEN]; /* "LD_PRELOAD=...", NUL-padded */
};

const struct vouch_key *unused_vouch_key __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vouch_key);
	__type(value, u64); /* execs counted */
} vouched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct vouch_key);
} vouch_scratch SEC(".maps");

/* Addresses of the environment strings that matched, for this exec. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_ENVVARS);
	__type(key, u32);
	__type(value, u64);
} env_matches SEC(".maps");

/*
 * When the reader was last woken (ns): exec records wake it at most every
 * WAKE_GAP_NS, mapping records never (past a quarter-full ring). A wakeup
 * costs some 20 us, far more than a record; batching keeps a storm of
 * delivered events cheap, and the reader also polls every second. File
 * records always wake it: they are rare (writes to the watched
 * configuration), and userspace attributes a change 150 ms after inotify
 * reports it, so a record left for the next poll would lose the writer.
 */
#define WAKE_GAP_NS (5 * 1000 * 1000)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} last_wake SEC(".maps");

static __always_inline u64 wake_flags(bool eager)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ringbuf_wake_bytes)
		return BPF_RB_FORCE_WAKEUP;
	if (!eager)
		return BPF_RB_NO_WAKEUP;
	u32 zero = 0;
	u64 *last = bpf_map_lookup_elem(&last_wake, &zero);
	u64 now = bpf_ktime_get_ns();
	if (!last || now - *last >= WAKE_GAP_NS) {
		if (last)
			*last = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void count(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/*
 * The names of the task's cgroup and its parents, leaf first: on the unified
 * hierarchy (cgroup v2), or where only v1 is mounted, in the pids
 * controller's hierarchy (docker with cgroupfs names containers there too).
 */
static __always_inline void fill_cgroup(u8 names[CGROUP_LEVELS][CGROUP_NAME], struct task_struct *task)
{
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	struct kernfs_node *kn = BPF_CORE_READ(cg, kn);
	if (!kn || !kn_parent(kn)) {
		/* The v2 root: the task lives in v1 hierarchies. */
		u32 idx = bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
		struct css_set *cs = BPF_CORE_READ(task, cgroups);
		struct cgroup_subsys_state *css = NULL;
		if (idx < 16)
			bpf_probe_read_kernel(&css, sizeof(css), &cs->subsys[idx]);
		kn = css ? BPF_CORE_READ(css, cgroup, kn) : NULL;
	}
	for (int i = 0; i < CGROUP_LEVELS; i++)
		names[i][0] = 0; /* the record's buffer is reused */
	for (int i = 0; i < CGROUP_LEVELS; i++) {
		struct kernfs_node *up = kn ? kn_parent(kn) : NULL;
		if (!up)
			break; /* the root has no name worth keeping */
		bpf_probe_read_kernel_str(names[i], CGROUP_NAME, BPF_CORE_READ(kn, name));
		kn = up;
	}
}

static __always_inline void fill_proc(struct proc_info *p, struct task_struct *task)
{
	u64 id = bpf_get_current_pid_tgid();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	p->ktime = bpf_ktime_get_ns();
	p->start_time = BPF_CORE_READ(task, group_leader, start_boottime);
	p->pid = (u32)id;
	p->tgid = id >> 32;
	p->ppid = BPF_CORE_READ(task, real_parent, tgid);
	p->uid = BPF_CORE_READ(cred, uid.val);
	p->gid = BPF_CORE_READ(cred, gid.val);
	p->euid = BPF_CORE_READ(cred, euid.val);
	p->egid = BPF_CORE_READ(cred, egid.val);
	p->loginuid = (u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		p->loginuid = BPF_CORE_READ(task, loginuid.val);
	bpf_get_current_comm(p->comm, sizeof(p->comm));
}

struct path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	u32 off;
	u32 trunc;
};

/*
 * One step of resolving a struct path to an absolute name the way d_path
 * does: walk dentries up to the mount root and cross mounts, writing
 * backwards so the name ends at pb->b[PATH_BUF]. A pseudo file with no parent
 * (memfd, an unlinked-at-birth tmpfile) is named by its own dentry, as
 * /proc/PID/maps does: "/memfd:NAME". A bpf_loop callback, so the verifier
 * checks one step, not PATH_DEPTH of them.
 */
static long path_step(u32 i, void *ctx)
{
	struct path_walk *w = ctx;
	u32 zero = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb)
		return 1;

	/* Locals, not w->...: inside BPF_CORE_READ a path_walk access would
	 * itself become a CO-RE relocation against a type the kernel lacks. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	if (dentry == root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt)
			return 1; /* the root of the mount namespace */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}

	u32 len = BPF_CORE_READ(dentry, d_name.len) & 0xff;
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	u32 off = w->off;
	if (len + 1 > off) {
		w->trunc = 1;
		return 1;
	}
	off -= len + 1;
	bpf_probe_read_kernel(&pb->b[(off + 1) & PATH_MASK], len, name);
	pb->b[off & PATH_MASK] = '/';
	w->off = off;
	if (dentry == parent)
		return 1; /* disconnected or pseudo file: its own name is all it has */
	w->dentry = parent;
	if (i == PATH_DEPTH - 1)
		w->trunc = 1;
	return 0;
}

/* Resolve p into the path scratch buffer; returns where the name starts. */
static __always_inline u32 resolve_path(const struct path *p, struct path_buf *pb, bool *trunc)
{
	struct path_walk w = {};
	w.dentry = BPF_CORE_READ(p, dentry);
	w.vfsmnt = BPF_CORE_READ(p, mnt);
	w.mnt = (void *)w.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w.off = PATH_BUF;
	bpf_loop(PATH_DEPTH, path_step, &w, 0);
	if (w.trunc)
		*trunc = true;
	u32 off = w.off;
	if (off >= PATH_BUF) {
		off = PATH_BUF - 1;
		pb->b[off] = '/';
	}
	return off;
}

/* Copy a resolved path into dst; returns its length. */
static __always_inline u32 copy_path(const struct path *p, u8 *dst, bool *trunc)
{
	u32 zero = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb)
		return 0;
	u32 off = resolve_path(p, pb, trunc);
	u32 len = (PATH_BUF - off) & PATH_MASK;
	if (off == 0)
		len = PATH_BUF - 1; /* keep the verifier's bound: lose one byte */
	bpf_probe_read_kernel(dst, len, &pb->b[off & PATH_MASK]);
	return len;
}

/* ---- environment scan ------------------------------------------------- */

struct env_scan {
	u64 start;
	u64 end;
	u64 base; /* user address of the chunk in the buffer at b[8] */
	u32 len;  /* bytes of this chunk */
	u32 last; /* this is the last chunk */
	u32 n;
	u32 flags;
};

/*
 * Test the string that starts right after the NUL at buffer position q, whose
 * first 8 bytes are v, against the configured prefixes. A global function, so
 * the verifier checks it once instead of at every place it is called.
 */
__noinline int env_check(struct env_scan *s, u64 v, u32 q)
{
	if (!s)
		return 0;
	/* A match needs all 8 prefix bytes loaded, except in the last chunk. */
	if (!s->last && q + 1 + 8 > 8 + s->len)
		return 0;
	for (int k = 0; k < MAX_PREFIXES; k++) {
		if (k >= n_env_prefixes)
			return 0;
		if ((v & env_mask[k]) != env_prefix[k])
			continue;
		u64 addr = s->base - 8 + q + 1;
		if (addr >= s->end || addr < s->start)
			return 0;
		if (s->n >= MAX_ENVVARS) {
			s->flags |= EXEC_ENVVAR_TRUNC;
			return 0;
		}
		/*
		 * Keep the address in a map slot rather than an array indexed
		 * by n: the verifier then need not track n exactly, and the
		 * scan's states converge.
		 */
		u32 key = s->n;
		u64 *slot = bpf_map_lookup_elem(&env_matches, &key);
		if (slot)
			*slot = addr;
		s->n++;
		return 1;
	}
	return 0;
}

#define HAS_ZERO(w) (((w) - 0x0101010101010101ULL) & ~(w) & 0x8080808080808080ULL)

/*
 * One bpf_loop step: four words (32 bytes) of the chunk buffer. Most words
 * hold no NUL and cost a load and three ALU operations; fewer, larger steps
 * keep the per-step call overhead down.
 */
static long env_scan_block(u32 i, void *ctx)
{
	struct env_scan *s = ctx;
	u32 zero = 0;
	struct env_buf *eb = bpf_map_lookup_elem(&env_scratch, &zero);
	if (!eb)
		return 1;
	u32 base = (i * 32) & ENV_MASK;
	for (int w = 0; w < 4; w++) {
		u32 wp = base + w * 8;
		u64 word = *(u64 *)&eb->b[wp];
		if (!HAS_ZERO(word))
			continue;
		for (int j = 0; j < 8; j++) {
			if (((word >> (8 * j)) & 0xff) != 0)
				continue;
			u32 q = wp + j;
			env_check(s, *(u64 *)&eb->b[q + 1], q);
		}
	}
	return 0;
}

/* One bpf_loop step: load chunk i of the environment and scan it. */
static long env_scan_chunk(u32 i, void *ctx)
{
	struct env_scan *s = ctx;
	u32 zero = 0;
	struct env_buf *eb = bpf_map_lookup_elem(&env_scratch, &zero);
	if (!eb)
		return 1;

	u64 base = s->start + (u64)i * ENV_CHUNK;
	if (base >= s->end)
		return 1;
	u64 len = s->end - base;
	if (len > ENV_CHUNK)
		len = ENV_CHUNK;

	/*
	 * b[0..8) holds the last 8 bytes of the previous chunk, so a string
	 * that begins on a chunk boundary is still seen after its NUL. The
	 * first chunk pretends a NUL before the first string.
	 */
	if (i == 0)
		*(u64 *)&eb->b[0] = 0;
	else
		*(u64 *)&eb->b[0] = *(u64 *)&eb->b[ENV_CHUNK];
	if (bpf_probe_read_user(&eb->b[8], len, (void *)base)) {
		s->flags |= EXEC_ENV_FAULT;
		return 1;
	}
	s->base = base;
	s->len = len;
	s->last = base + len >= s->end;
	bpf_loop((8 + len + 31) / 32, env_scan_block, s, 0);
	if (!s->last && i == ENV_CHUNKS - 1)
		s->flags |= EXEC_ENV_TRUNC;
	return s->last ? 1 : 0;
}

/* ---- interpreter check ------------------------------------------------ */

struct vma_file {
	struct file *file;
};

static long interp_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_file *out = data;
	out->file = BPF_CORE_READ(vma, vm_file);
	return 0;
}

/*
 * The kernel saved the auxiliary vector at exec: AT_BASE is where it mapped
 * the ELF interpreter. An interpreter that is not one of the system's
 * loaders is how OrBit-style malware preloads without any variable. With no
 * interpreter at all, a position-independent executable is static-pie or the
 * loader itself run under another name: userspace tells which.
 */
static __always_inline u16 interp_check(struct task_struct *task, struct mm_struct *mm, struct file **interp)
{
	/* The environment scan is done: its buffer holds the vector now. */
	u32 zero = 0;
	struct env_buf *eb = bpf_map_lookup_elem(&env_scratch, &zero);
	if (!eb)
		return 0;
	u64 *auxv = (u64 *)eb->b;
	if (bpf_probe_read_kernel(auxv, AUXV_WORDS * 8, __builtin_preserve_access_index(&mm->saved_auxv)))
		return 0;
	u64 base = 0, phdr = 0;
	for (int i = 0; i + 1 < AUXV_WORDS; i += 2) {
		if (auxv[i] == 0)
			break;
		if (auxv[i] == AT_BASE)
			base = auxv[i + 1];
		else if (auxv[i] == AT_PHDR)
			phdr = auxv[i + 1];
	}
	if (base) {
		struct vma_file vf = {};
		bpf_find_vma(bpf_get_current_task_btf(), base, interp_vma_cb, &vf, 0);
		struct file *ifile = vf.file; /* a local: see path_step */
		if (!ifile)
			return 0;
		struct file_key k = {};
		k.dev = BPF_CORE_READ(ifile, f_inode, i_sb, s_dev);
		k.ino = BPF_CORE_READ(ifile, f_inode, i_ino);
		if (bpf_map_lookup_elem(&system_interps, &k))
			return 0;
		*interp = ifile;
		return EXEC_ODD_INTERP;
	}
	/*
	 * No interpreter. The ELF header itself is not readable here (the
	 * kernel read it from the file; the page is not faulted in), but where
	 * the kernel put the program headers tells the type: ET_EXEC programs
	 * are linked at fixed low addresses (0x400000), while an ET_DYN without
	 * interpreter is placed in the mmap region, far above 4 GiB.
	 */
	if (phdr > 0xffffffffULL) {
		struct file *exe = BPF_CORE_READ(mm, exe_file);
		struct file_key k = {};
		k.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		k.ino = BPF_CORE_READ(exe, f_inode, i_ino);
		if (!bpf_map_lookup_elem(&system_interps, &k))
			return EXEC_LOADERLIKE;
	}
	return 0;
}

/* ---- exec ------------------------------------------------------------- */

/*
 * The exec's one matching environment string, with its program, is a
 * vouched verdict: count it. A string as long as the key is never one.
 */
static __always_inline bool vouched_exec(const char comm[16])
{
	u32 zero = 0;
	struct vouch_key *k = bpf_map_lookup_elem(&vouch_scratch, &zero);
	u64 *addr = bpf_map_lookup_elem(&env_matches, &zero);
	if (!k || !addr)
		return false;
	u64 *w = (u64 *)k;
	for (int i = 0; i < sizeof(*k) / 8; i++)
		w[i] = 0;
	__builtin_memcpy(k->comm, comm, 16);
	long n = bpf_probe_read_user_str(k->env, VOUCH_LEN, (void *)*addr);
	if (n <= 0 || n >= VOUCH_LEN)
		return false;
	u64 *c = bpf_map_lookup_elem(&vouched, k);
	if (!c)
		return false;
	__sync_fetch_and_add(c, 1);
	return true;
}

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

	u32 zero = 0;
	struct exec_event *ev = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!ev)
		return 0;

	ev->h.kind = KIND_EXEC;
	ev->h.watch = watch;
	ev->h.flags = s.flags;
	if ((watch & (WATCH_CREDENTIAL | WATCH_LOADER)) && BPF_CORE_READ(task, ptrace))
		ev->h.flags |= EXEC_PTRACED;
	fill_proc(&ev->h.proc, task);
	fill_cgroup(ev->h.cgroup, task);

	struct file *exe = BPF_CORE_READ(mm, exe_file);
	bool trunc = false;
	u64 off = 0;
	if (exe) {
		off = copy_path(&exe->f_path, ev->data, &trunc);
		ev->h.exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		ev->h.exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
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

/* ---- executable file mappings ---------------------------------------- */

static __always_inline void emit_map(struct file *f, u8 watch, u16 flags, u64 addr, u64 prot)
{
	u32 zero = 0;
	struct map_event *ev = bpf_map_lookup_elem(&map_scratch, &zero);
	if (!ev)
		return;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	struct dentry *dentry = BPF_CORE_READ(f, f_path.dentry);

	ev->h.kind = KIND_MAP;
	ev->h.watch = watch;
	ev->h.flags = flags;
	ev->h.addr = addr;
	ev->h.prot = prot;
	ev->h.ino = BPF_CORE_READ(inode, i_ino);
	ev->h.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ev->h.mode = BPF_CORE_READ(inode, i_mode);
	ev->h.size = BPF_CORE_READ(inode, i_size);
	if (BPF_CORE_READ(inode, i_nlink) == 0)
		ev->h.flags |= MAP_DELETED;

	/* memfd_create names its dentry "memfd:NAME" on the internal shm mount. */
	char head[8] = {};
	bpf_probe_read_kernel(head, 6, BPF_CORE_READ(dentry, d_name.name));
	if (head[0] == 'm' && head[1] == 'e' && head[2] == 'm' && head[3] == 'f' &&
	    head[4] == 'd' && head[5] == ':' && BPF_CORE_READ(dentry, d_parent) == dentry)
		ev->h.flags |= MAP_MEMFD;

	fill_proc(&ev->h.proc, task);
	bool trunc = false;
	u32 len = copy_path(&f->f_path, ev->data, &trunc);
	if (trunc)
		ev->h.flags |= MAP_PATH_TRUNC;
	ev->h.path_len = len;

	u64 size = sizeof(ev->h) + (len & PATH_MASK);
	/*
	 * Mappings arrive in bursts right after an exec, whose record has
	 * woken the reader already: they do not wake it themselves (see
	 * wake_flags). A lone one (a dlopen injected into a running sshd) is
	 * read at the reader's next poll, within a second.
	 */
	if (bpf_ringbuf_output(&events, ev, size, wake_flags(false)))
		count(STAT_LOST_MAP);
	else
		count(STAT_MAP_EVENTS);
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int handle_mmap(struct syscall_enter_ctx *ctx)
{
	/* Cheapest tests first: most mappings are not executable files. */
	u64 prot = ctx->args[2];
	if (!(prot & PROT_EXEC))
		return 0;
	long fd = (long)ctx->args[4];
	if (fd < 0 || (ctx->args[3] & MAP_ANONYMOUS))
		return 0;
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u8 *w = bpf_map_lookup_elem(&watched, &tgid);
	if (!w)
		return 0;

	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if ((u64)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	struct mapped_key mk = {};
	mk.mm = (u64)BPF_CORE_READ(task, mm);
	mk.tgid = tgid;
	mk.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	mk.ino = BPF_CORE_READ(f, f_inode, i_ino);
	u8 one = 1;
	if (bpf_map_update_elem(&mapped, &mk, &one, BPF_NOEXIST))
		return 0; /* reported already */
	emit_map(f, *w, 0, ctx->args[0], prot);
	return 0;
}

struct vma_found {
	struct file *file;
	u64 start;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_found *out = data;
	/* Only a file mapping that was not executable before is news. */
	if (BPF_CORE_READ(vma, vm_flags) & VM_EXEC)
		return 0;
	out->file = BPF_CORE_READ(vma, vm_file);
	out->start = BPF_CORE_READ(vma, vm_start);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mprotect")
int handle_mprotect(struct syscall_enter_ctx *ctx)
{
	u64 prot = ctx->args[2];
	if (!(prot & PROT_EXEC))
		return 0;
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u8 *w = bpf_map_lookup_elem(&watched, &tgid);
	if (!w)
		return 0;
	struct vma_found found = {};
	bpf_find_vma(bpf_get_current_task_btf(), ctx->args[0], vma_cb, &found, 0);
	if (!found.file)
		return 0;
	emit_map(found.file, *w, MAP_MPROTECT, ctx->args[0], prot);
	return 0;
}

/* ---- loader configuration: who writes, renames, links, deletes -------- */

static __always_inline void fill_ancestors(u8 ancestors[ANCESTORS][16], struct task_struct *task)
{
	struct task_struct *t = BPF_CORE_READ(task, real_parent);
	for (int i = 0; i < ANCESTORS; i++) {
		if (!t)
			break;
		bpf_probe_read_kernel_str(ancestors[i], 16, __builtin_preserve_access_index(&t->comm));
		struct task_struct *up = BPF_CORE_READ(t, real_parent);
		if (up == t)
			break;
		t = up;
	}
}

#include "access.h"

static __always_inline void emit_file(struct file_event *ev, u16 len1, u16 len2)
{
	u64 size = sizeof(ev->h) + (len1 & (PATH_BUF - 1)) + (len2 & (PATH_BUF - 1));
	if (size > sizeof(*ev))
		size = sizeof(*ev);
	if (bpf_ringbuf_output(&events, ev, size, BPF_RB_FORCE_WAKEUP))
		count(STAT_LOST_FILE);
	else
		count(STAT_FILE_EVENTS);
}

static __always_inline struct file_event *new_file_event(u8 op, struct task_struct *task)
{
	u32 zero = 0;
	struct file_event *ev = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!ev)
		return NULL;
	__builtin_memset(&ev->h, 0, sizeof(ev->h));
	ev->h.kind = KIND_FILE;
	ev->h.op = op;
	fill_proc(&ev->h.proc, task);
	fill_ancestors(ev->h.ancestors, task);
	fill_cgroup(ev->h.cgroup, task);
	return ev;
}

/*
 * etc/ld.so.preload that is not the host's (the host's is matched by inode):
 * a container's, or a chroot's. Its name and its directory's, two reads.
 */
static __always_inline bool container_preload(struct file *f, struct dentry *parent)
{
	u64 name[2] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	/* "ld.so.preload\0", little-endian words */
	if (name[0] != 0x72702e6f732e646cULL || (name[1] & 0xffffffffffffULL) != 0x64616f6c65ULL)
		return false;
	u32 dir = 0;
	bpf_probe_read_kernel_str(&dir, sizeof(dir), BPF_CORE_READ(parent, d_name.name));
	return dir == 0x00637465; /* "etc\0" */
}

/*
 * Offsets that are not file positions: /proc/PID/mem (and /dev/mem) set the
 * flag on their file operations since 6.12, on the open file before.
 */
static __always_inline bool unsigned_offset(struct file *f, u32 mode)
{
	if (bpf_core_field_exists(f->f_op->fop_flags))
		return f->f_op->fop_flags & FOP_UNSIGNED_OFFSET;
	return mode & FMODE_UNSIGNED_OFFSET;
}

/*
 * Every successful open on the host ends here, so this decides from the
 * opened file alone, in a few typed loads, whether the open can matter:
 * a file opened for writing (a loader configuration file, by inode, or one
 * in a watched directory) or one with unsigned offsets (/proc/PID/mem).
 * The file, not the name: any path to it (relative, through symlinks or
 * "..") ends here, and nothing is read at enter.
 *
 * A read-only open with O_TRUNC or O_CREAT changes a file without opening
 * it for writing; the configuration watcher still sees the change, but
 * without its writer.
 */
static __always_inline int open_exit(struct syscall_exit_ctx *ctx)
{
	long fd = ctx->ret;
	if (fd < 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if ((u64)fd >= fdt->max_fds)
		return 0;
	struct file *fp = NULL;
	/* the array is indexed by a variable: the one helper read */
	bpf_probe_read_kernel(&fp, sizeof(fp), &fdt->fd[fd]);
	if (!fp)
		return 0;
	struct file *f = bpf_core_cast(fp, struct file);
	u32 mode = f->f_mode;
	if (unsigned_offset(f, mode)) {
		if (f->f_inode->i_sb->s_magic == PROC_SUPER_MAGIC)
			proc_mem_opened((void *)task, fp);
		return 0;
	}
	if (!(mode & FMODE_WRITE))
		return 0;

	struct file_key k = {};
	k.dev = BPF_CORE_READ(fp, f_inode, i_sb, s_dev);
	k.ino = BPF_CORE_READ(fp, f_inode, i_ino);
	if (!bpf_map_lookup_elem(&watched_inodes, &k)) {
		/*
		 * The parent directory, or its parent: a drop-in directory made
		 * and written in one breath is not in watched_dirs yet when the
		 * file is written.
		 */
		struct file_key dk = {};
		struct dentry *parent = BPF_CORE_READ(fp, f_path.dentry, d_parent);
		dk.dev = BPF_CORE_READ(parent, d_inode, i_sb, s_dev);
		dk.ino = BPF_CORE_READ(parent, d_inode, i_ino);
		if (!bpf_map_lookup_elem(&watched_dirs, &dk)) {
			struct dentry *gp = BPF_CORE_READ(parent, d_parent);
			dk.ino = BPF_CORE_READ(gp, d_inode, i_ino);
			if ((gp == parent || !bpf_map_lookup_elem(&watched_dirs, &dk)) &&
			    !container_preload(fp, parent))
				return 0;
		}
	}

	struct file_event *ev = new_file_event(FOP_OPEN_WRITE, (void *)task);
	if (!ev)
		return 0;
	ev->h.dev = k.dev;
	ev->h.ino = k.ino;
	ev->h.open_flags = f->f_flags;
	bool trunc = false;
	u32 len = copy_path(&fp->f_path, ev->data, &trunc);
	ev->h.path_len = len;
	emit_file(ev, len, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_openat(struct syscall_exit_ctx *ctx) { return open_exit(ctx); }

SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct syscall_exit_ctx *ctx) { return open_exit(ctx); }

SEC("tracepoint/syscalls/sys_exit_open")
int handle_exit_open(struct syscall_exit_ctx *ctx) { return open_exit(ctx); }

SEC("tracepoint/syscalls/sys_exit_creat")
int handle_exit_creat(struct syscall_exit_ctx *ctx) { return open_exit(ctx); }

/* Join a directory name ending at b[PATH_BUF] and the string after it. */
static __always_inline u32 join_name(struct path_buf *pb, u32 off, u32 slen, u32 *len)
{
	pb->b[PATH_BUF] = '/';
	if (off >= PATH_BUF - 1)
		off = PATH_BUF; /* the root directory: just "/" + name */
	*len = (PATH_BUF + 1 + slen - off) & (PATH_BUF - 1);
	return off;
}

/*
 * Build the absolute name of a path argument in the path scratch buffer: an
 * absolute string as it is, a relative one after the name of dfd's directory
 * (or the working directory). The string is read to b[PATH_BUF + 1]; a
 * directory name is resolved to end at b[PATH_BUF], where the slash goes.
 * Returns where the name starts (at most PATH_BUF + 1) and its length through
 * *len; the name is not normalised (. and .. stay).
 */
static __always_inline u32 abs_name(struct task_struct *task, int dfd, const char *upath, u32 *len)
{
	u32 zero = 0;
	*len = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb)
		return 0;
	long n = bpf_probe_read_user_str(&pb->b[PATH_BUF + 1], PATH_BUF - 2, upath);
	if (n <= 1)
		return 0;
	u32 slen = (n - 1) & (PATH_BUF - 1);
	if (pb->b[PATH_BUF + 1] == '/') {
		*len = slen;
		return PATH_BUF + 1;
	}

	struct file *f = NULL;
	if (dfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		u32 off = resolve_path(__builtin_preserve_access_index(&fs->pwd), pb, &(bool){false});
		return join_name(pb, off, slen, len);
	}
	if (dfd < 0)
		return 0;
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if ((u32)dfd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[dfd]);
	if (!f)
		return 0;
	u32 off = resolve_path(__builtin_preserve_access_index(&f->f_path), pb, &(bool){false});
	return join_name(pb, off, slen, len);
}

/* Does the name at b[off, off+len) start with a watched prefix? */
static __always_inline bool watched_name(u32 off, u32 len)
{
	u32 zero = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb || len == 0)
		return false;
	if (off > PATH_BUF + 1)
		return false;
	for (int p = 0; p < MAX_FILE_PREFIXES; p++) {
		if (p >= n_file_prefixes)
			return false;
		bool match = true;
		for (int w = 0; w < PREFIX_WORDS; w++) {
			if (w >= file_prefix_words[p])
				break;
			u64 v = *(u64 *)&pb->b[off + w * 8];
			if ((v & file_prefix_mask[p][w]) != file_prefix[p][w]) {
				match = false;
				break;
			}
		}
		if (match)
			return true;
	}
	return false;
}

/* Copy the name just built into the event at dst. */
static __always_inline u32 take_name(u8 *dst, u32 off, u32 len)
{
	u32 zero = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb || off > PATH_BUF + 1)
		return 0;
	len &= PATH_BUF - 1;
	bpf_probe_read_kernel(dst, len, &pb->b[off]);
	return len;
}

/*
 * A syscall naming one or two paths: report it when either is a loader
 * configuration name. path1 may be plain text (a symlink's target).
 */
/* dfd arguments are ints: the upper half of the register is not theirs. */
static __always_inline int path_op(u8 op, int dfd1, const char *p1, bool p1_is_name, int dfd2, const char *p2)
{
	if (n_file_prefixes == 0)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	u32 zero = 0;
	struct file_event *ev = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!ev)
		return 0;
	u32 len1 = 0, len2 = 0, off;
	bool hit = false;

	if (p1) {
		if (p1_is_name) {
			off = abs_name(task, dfd1, p1, &len1);
			hit = len1 && watched_name(off, len1);
			len1 = take_name(ev->data, off, len1);
		} else {
			long n = bpf_probe_read_user_str(ev->data, PATH_BUF - 1, p1);
			len1 = n > 1 ? (n - 1) & (PATH_BUF - 1) : 0;
		}
	}
	if (p2) {
		off = abs_name(task, dfd2, p2, &len2);
		hit = hit || (len2 && watched_name(off, len2));
		len2 = take_name(&ev->data[len1 & (PATH_BUF - 1)], off, len2);
	}
	if (!hit)
		return 0;

	/* new_file_event clears the header only: the names stay. */
	if (!new_file_event(op, task))
		return 0;
	ev->h.path_len = len1;
	ev->h.path2_len = len2;
	emit_file(ev, len1, len2);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int handle_renameat2(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_RENAME, ctx->args[0], (void *)ctx->args[1], true, ctx->args[2], (void *)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int handle_renameat(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_RENAME, ctx->args[0], (void *)ctx->args[1], true, ctx->args[2], (void *)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int handle_rename(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_RENAME, AT_FDCWD, (void *)ctx->args[0], true, AT_FDCWD, (void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int handle_unlinkat(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_UNLINK, ctx->args[0], (void *)ctx->args[1], true, 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int handle_unlink(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_UNLINK, AT_FDCWD, (void *)ctx->args[0], true, 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_linkat")
int handle_linkat(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_LINK, ctx->args[0], (void *)ctx->args[1], true, ctx->args[2], (void *)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_link")
int handle_link(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_LINK, AT_FDCWD, (void *)ctx->args[0], true, AT_FDCWD, (void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int handle_symlinkat(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_SYMLINK, 0, (void *)ctx->args[0], false, ctx->args[1], (void *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_symlink")
int handle_symlink(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_SYMLINK, 0, (void *)ctx->args[0], false, AT_FDCWD, (void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_truncate")
int handle_truncate(struct syscall_enter_ctx *ctx)
{
	return path_op(FOP_TRUNCATE, AT_FDCWD, (void *)ctx->args[0], true, 0, NULL);
}
