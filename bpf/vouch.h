/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Verdicts the kernel reuses (userspace vouched for an exec's one loader
 * variable on its program): counted, not delivered.
 */

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

/*
 * The exec's one matching environment string, with its program, is a
 * vouched verdict: count it. A string as long as the key is never one.
 */
static __always_inline bool vouched_exec(const char comm[16])
{
	struct vouch_key *k = only_elem(&vouch_scratch);
	u32 first = 0;
	u64 *addr = bpf_map_lookup_elem(&env_matches, &first);
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
