/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Executable file mappings of watched processes: mmap with PROT_EXEC and
 * mprotect adding it.
 */

/* ---- executable file mappings ---------------------------------------- */

static __always_inline void emit_map(struct file *f, u8 watch, u16 flags, u64 addr, u64 prot)
{
	struct map_event *ev = only_elem(&map_scratch);
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
	fill_version(&ev->h.ver, inode);
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
