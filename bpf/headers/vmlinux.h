/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal, hand-kept subset of the kernel's types for hookwatch's BPF
 * programs. Every struct carries preserve_access_index, so field offsets are
 * relocated at load time from the running kernel's BTF (CO-RE): only the
 * names and types of the fields we read matter here, not their order.
 *
 * Why not a full `bpftool btf dump` vmlinux.h: it is ~3 MiB, differs per
 * kernel build, and would make the committed objects depend on the machine
 * that ran `make generate`. This file keeps the build reproducible.
 */
#ifndef __HOOKWATCH_VMLINUX_H__
#define __HOOKWATCH_VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef u32 dev_t;
typedef long long loff_t;
typedef unsigned short umode_t;
typedef unsigned long vm_flags_t;

enum {
	false = 0,
	true = 1,
};

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_F_NO_PREALLOC = 1,
};

enum {
	BPF_LOCAL_STORAGE_GET_F_CREATE = 1,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

typedef struct {
	uid_t val;
} kuid_t;

typedef struct {
	gid_t val;
} kgid_t;

struct qstr {
	u32 len;
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct super_block {
	dev_t s_dev;
	unsigned long s_magic;
} __attribute__((preserve_access_index));

struct inode {
	umode_t i_mode;
	struct super_block *i_sb;
	unsigned long i_ino;
	unsigned int i_nlink;
	loff_t i_size;
	/* Linux 6.11 and later; inode___timespec has the earlier forms. */
	s64 i_mtime_sec;
	s64 i_ctime_sec;
	u32 i_mtime_nsec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

struct timespec64 {
	s64 tv_sec;
	long tv_nsec;
} __attribute__((preserve_access_index));

/* The inode's times before 6.11: timespec64 fields, named __i_mtime and
 * __i_ctime from 6.6 (6.7 for mtime), i_mtime and i_ctime before. */
struct inode___timespec {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
	struct super_block *mnt_sb;
} __attribute__((preserve_access_index));

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file_operations {
	unsigned int fop_flags;
} __attribute__((preserve_access_index));

struct file {
	unsigned int f_mode;
	unsigned int f_flags;
	struct path f_path;
	struct inode *f_inode;
	const struct file_operations *f_op;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long saved_auxv[56];
	unsigned long start_stack;
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	vm_flags_t vm_flags;
	struct file *vm_file;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path root;
	struct path pwd;
} __attribute__((preserve_access_index));

struct open_how {
	u64 flags;
	u64 mode;
	u64 resolve;
};

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
} __attribute__((preserve_access_index));

struct list_head {
	struct list_head *next;
	struct list_head *prev;
};

struct hlist_node {
	struct hlist_node *next;
	struct hlist_node **pprev;
};

struct hlist_head {
	struct hlist_node *first;
};

/* A pid as each namespace level numbers it; numbers[level] is the innermost. */
struct upid {
	int nr;
	void *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
	struct hlist_head tasks[4]; /* PIDTYPE_PID first */
	struct upid numbers[1];
} __attribute__((preserve_access_index));

/* procfs's inode: the pid a /proc/PID/... file is about. */
struct proc_inode {
	struct pid *pid;
	struct inode vfs_inode;
} __attribute__((preserve_access_index));

/* cgroups: the names of a task's cgroup and its parents (its container). */
struct kernfs_node {
	const char *name;
	struct kernfs_node *__parent; /* Linux 6.15+ */
} __attribute__((preserve_access_index));

/* Before Linux 6.15 the parent was "parent": a flavour for CO-RE. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup_subsys_state *subsys[16];
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

/* Values differ with the kernel's configuration: relocated by name. */
enum cgroup_subsys_id {
	pids_cgrp_id = 0,
};

struct task_struct {
	struct css_set *cgroups;
	unsigned int ptrace; /* non-zero while traced */
	struct task_struct *parent; /* the tracer while traced, else real_parent */
	struct hlist_node pid_links[4];
	struct pid *thread_pid;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	const struct cred *cred;
	struct files_struct *files;
	struct fs_struct *fs;
	u64 start_time;
	u64 start_boottime;
	kuid_t loginuid;
	unsigned int sessionid;
	char comm[16];
} __attribute__((preserve_access_index));

/* Tracepoint contexts: layouts from /sys/kernel/tracing/events/.../format. */
struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	u32 __data_loc_filename;
	pid_t pid;
	pid_t old_pid;
};

struct trace_event_raw_sched_process_fork {
	struct trace_entry ent;
	u32 __data_loc_parent_comm;
	pid_t parent_pid;
	u32 __data_loc_child_comm;
	pid_t child_pid;
};

/*
 * sched_process_exit gained group_dead in Linux 6.16; CO-RE tells us whether
 * the running kernel has it (bpf_core_field_exists), hence the attribute.
 */
struct trace_event_raw_sched_process_exit {
	struct trace_entry ent;
	char comm[16];
	pid_t pid;
	int prio;
	bool group_dead;
} __attribute__((preserve_access_index));

/* syscalls/sys_enter_*: common header, the syscall number, then six args. */
struct syscall_enter_ctx {
	struct trace_entry ent;
	int nr;
	unsigned long args[6];
};

/* syscalls/sys_exit_*: common header, the syscall number, the result. */
struct syscall_exit_ctx {
	struct trace_entry ent;
	int nr;
	long ret;
};

#endif /* __HOOKWATCH_VMLINUX_H__ */
