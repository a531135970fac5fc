/*
 * reach: reads or writes another process's memory the ways credential
 * stealers and injectors do, for the end-to-end tests. It touches the first
 * writable mapping of the target and writes back only bytes it just read.
 *
 *   reach mem-read|mem-write|vm-read|vm-write|peek|poke PID
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long writable(int pid)
{
	char path[64], line[512], perms[8];
	unsigned long a, b;
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 && perms[0] == 'r' && perms[1] == 'w') {
			fclose(f);
			return a;
		}
	fclose(f);
	return 0;
}

static int fail(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *mode = argv[1];
	int pid = atoi(argv[2]);
	unsigned long addr = writable(pid);
	char buf[4096];
	if (!addr)
		return fail("no writable mapping");
	if (!strcmp(mode, "mem-read") || !strcmp(mode, "mem-write")) {
		char path[64];
		int w = !strcmp(mode, "mem-write");
		snprintf(path, sizeof path, "/proc/%d/mem", pid);
		int fd = open(path, w ? O_RDWR : O_RDONLY);
		if (fd < 0)
			return fail(path);
		if (pread(fd, buf, sizeof buf, addr) != sizeof buf)
			return fail("pread");
		if (w && pwrite(fd, buf, 8, addr) != 8)
			return fail("pwrite");
		return 0;
	}
	struct iovec l = {buf, sizeof buf}, r = {(void *)addr, sizeof buf};
	if (!strcmp(mode, "vm-read"))
		return process_vm_readv(pid, &l, 1, &r, 1, 0) == sizeof buf ? 0 : fail("process_vm_readv");
	if (!strcmp(mode, "vm-write")) {
		if (process_vm_readv(pid, &l, 1, &r, 1, 0) != sizeof buf)
			return fail("process_vm_readv");
		l.iov_len = r.iov_len = 8;
		return process_vm_writev(pid, &l, 1, &r, 1, 0) == 8 ? 0 : fail("process_vm_writev");
	}
	if (!strcmp(mode, "peek") || !strcmp(mode, "poke")) {
		if (ptrace(PTRACE_ATTACH, pid, 0, 0))
			return fail("PTRACE_ATTACH");
		waitpid(pid, 0, __WALL);
		errno = 0;
		long v = ptrace(PTRACE_PEEKDATA, pid, (void *)addr, 0);
		if (errno)
			return fail("PTRACE_PEEKDATA");
		if (!strcmp(mode, "poke") && ptrace(PTRACE_POKEDATA, pid, (void *)addr, (void *)v))
			return fail("PTRACE_POKEDATA");
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return 0;
	}
	return 2;
}
