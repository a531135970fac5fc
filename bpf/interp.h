/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interpreter check: the ELF interpreter the kernel mapped, compared
 * with the system's loaders; a program with none that looks like a loader.
 */

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
	struct env_buf *eb = only_elem(&env_scratch);
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
