/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Task and file helpers: waking the reader, counters, the cgroup names, a
 * process record from its task, paths resolved from a struct path.
 */

static __always_inline u64 wake_flags(bool eager)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ringbuf_wake_bytes)
		return BPF_RB_FORCE_WAKEUP;
	if (!eager)
		return BPF_RB_NO_WAKEUP;
	u64 *last = only_elem(&last_wake);
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

/* I_CTIME_QUERIED: multigrain timestamps (6.13) flag the ctime's
 * nanoseconds; stat masks the bit off, and so does this. */
#define CTIME_QUERIED (1U << 31)

static __always_inline s64 ns(s64 sec, long nsec)
{
	return sec * 1000000000LL + (nsec & ~CTIME_QUERIED);
}

/* fill_version reads an inode's size and times as stat reports them, in
 * whichever form this kernel keeps them. */
static __always_inline void fill_version(struct file_version *v, struct inode *inode)
{
	v->size = BPF_CORE_READ(inode, i_size);
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		v->mtime = ns(BPF_CORE_READ(inode, i_mtime_sec), BPF_CORE_READ(inode, i_mtime_nsec));
		v->ctime = ns(BPF_CORE_READ(inode, i_ctime_sec), BPF_CORE_READ(inode, i_ctime_nsec));
		return;
	}
	struct inode___timespec *t = (void *)inode;
	struct timespec64 m = {}, c = {};
	if (bpf_core_field_exists(t->__i_mtime))
		BPF_CORE_READ_INTO(&m, t, __i_mtime);
	else
		BPF_CORE_READ_INTO(&m, t, i_mtime);
	if (bpf_core_field_exists(t->__i_ctime))
		BPF_CORE_READ_INTO(&c, t, __i_ctime);
	else
		BPF_CORE_READ_INTO(&c, t, i_ctime);
	v->mtime = ns(m.tv_sec, m.tv_nsec);
	v->ctime = ns(c.tv_sec, c.tv_nsec);
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
	struct path_buf *pb = only_elem(&path_scratch);
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
	struct path_buf *pb = only_elem(&path_scratch);
	if (!pb)
		return 0;
	u32 off = resolve_path(p, pb, trunc);
	u32 len = (PATH_BUF - off) & PATH_MASK;
	if (off == 0)
		len = PATH_BUF - 1; /* keep the verifier's bound: lose one byte */
	bpf_probe_read_kernel(dst, len, &pb->b[off & PATH_MASK]);
	return len;
}

/* Whether the task's root directory is not hookwatch's own; if so, its
 * device and inode. */
static __always_inline bool other_root(struct task_struct *task, u32 *dev, u64 *ino)
{
	if (!self_root_ino)
		return false;
	struct inode *root = BPF_CORE_READ(task, fs, root.dentry, d_inode);
	if (!root)
		return false;
	*ino = BPF_CORE_READ(root, i_ino);
	*dev = BPF_CORE_READ(root, i_sb, s_dev);
	return *ino != self_root_ino || *dev != self_root_dev;
}
