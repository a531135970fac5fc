/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The environment scan: a new image's environment searched for the
 * configured loader variables.
 */

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
	struct env_buf *eb = only_elem(&env_scratch);
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
	struct env_buf *eb = only_elem(&env_scratch);
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
