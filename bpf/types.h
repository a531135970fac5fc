/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The record layouts, limits, enums and maps every part of hookwatch.c
 * shares (included first, after the kernel headers; one object).
 */

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

/* The limits userspace must keep to, exported to Go through bpf2go's -type
 * (sensor/probe reads them; nothing copies them by hand). */
enum limits {
	LIMIT_LOADER_VARS = MAX_PREFIXES,          /* loader variable names matched */
	LIMIT_FILE_PREFIXES = MAX_FILE_PREFIXES,   /* configuration path prefixes */
	LIMIT_PREFIX_BYTES = PREFIX_WORDS * 8,     /* bytes of one path prefix */
	LIMIT_ENVVARS = MAX_ENVVARS,               /* matching environment strings kept */
	LIMIT_ENVVAR_BYTES = ENVVAR_BUF,           /* bytes kept of one */
	LIMIT_ENV_SCAN_BYTES = ENV_CHUNK * ENV_CHUNKS, /* environment scanned in the kernel */
};

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
	EXEC_OTHER_ROOT = 1 << 8,   /* its root directory is not hookwatch's (chroot, a container's root) */
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
/* A file's version as stat tells it (size, mtime, ctime in ns): what the
 * agent keys its verdicts on, read here from the inode the kernel used so
 * that the agent need not stat the path again (and judges what was
 * mapped, not what the path names by then). */
struct file_version {
	u64 size;
	s64 mtime;
	s64 ctime;
};

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
	struct file_version exe_ver;
	/* Its root directory, when not hookwatch's (EXEC_OTHER_ROOT). */
	u32 root_dev;
	u32 pad2;
	u64 root_ino;
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
	struct file_version ver;
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
/* hookwatch's own root directory (kernel dev_t, inode): a process whose
 * root is another (a chroot: a build chroot, debootstrap, an unregistered
 * container) is judged in its own root by userspace. 0: not set. */
volatile const u32 self_root_dev;
volatile const u64 self_root_ino;
/* Set when userspace filled system_interps. */
volatile const u32 check_interp;

/* Force the types into BTF so bpf2go can emit Go for them. */
const struct exec_hdr *unused_exec_hdr __attribute__((unused));
const struct map_hdr *unused_map_hdr __attribute__((unused));
const struct file_version *unused_file_version __attribute__((unused));
const struct file_hdr *unused_file_hdr __attribute__((unused));
const enum limits *unused_limits __attribute__((unused));
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

/* The element of a one-entry array: this CPU's scratch buffer, a counter.
 * NULL only if the map is not one. */
static __always_inline void *only_elem(void *map)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(map, &zero);
}
