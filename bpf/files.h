/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loader configuration: who opens for writing, renames, links, unlinks,
 * truncates the watched files; and, through the same open handler, the
 * /proc/PID/mem opens of access.h.
 */

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
	struct file_event *ev = only_elem(&file_scratch);
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
	*len = 0;
	struct path_buf *pb = only_elem(&path_scratch);
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
	struct path_buf *pb = only_elem(&path_scratch);
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
	struct path_buf *pb = only_elem(&path_scratch);
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
	struct file_event *ev = only_elem(&file_scratch);
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
