// A program that exercises every way hookwatch's kernel side reports an
// executable mapping. Compiled by probe_test.go; run under a watched name.
//
//   fixture [-wait] FORKLIB DELLIB PROTLIB ODDLIB
//
// With -wait it first reads a line from standard input, so a test can act on
// the running process (mark it watched) before it maps anything.
// It prints "child PID" for the forked child that loads FORKLIB and
// "true PID" for an unwatched grandchild exec, then "done".
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
	perror(what);
	exit(1);
}

static void load_fd(int fd) {
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	if (!dlopen(p, RTLD_NOW))
		die(dlerror());
}

int main(int argc, char **argv) {
	if (argc == 6 && strcmp(argv[1], "-wait") == 0) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			die("stdin");
		argv++;
		argc--;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: fixture FORKLIB DELLIB PROTLIB ODDLIB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* A forked child (no exec) inherits the watch and loads a library. */
	pid_t c = fork();
	if (c == 0) {
		if (!dlopen(argv[1], RTLD_NOW))
			_exit(1);
		_exit(0);
	}
	printf("child %d\n", c);
	waitpid(c, NULL, 0);

	/* A library that exists only in memory. */
	int src = open(argv[1], O_RDONLY);
	struct stat st;
	if (src < 0 || fstat(src, &st))
		die("open forklib");
	int mfd = memfd_create("hwtest", 0);
	if (mfd < 0 || sendfile(mfd, src, NULL, st.st_size) != st.st_size)
		die("memfd");
	load_fd(mfd);

	/* A library deleted before it is mapped. */
	int dfd = open(argv[2], O_RDONLY);
	if (dfd < 0 || unlink(argv[2]))
		die("dellib");
	load_fd(dfd);

	/* A file mapped readable, then made executable with mprotect. */
	int pfd = open(argv[3], O_RDONLY);
	if (pfd < 0)
		die("protlib");
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, pfd, 0);
	if (m == MAP_FAILED || mprotect(m, 4096, PROT_READ | PROT_EXEC))
		die("mprotect");

	/* A path with spaces, a newline and bytes that are not UTF-8. */
	if (!dlopen(argv[4], RTLD_NOW))
		die(dlerror());

	/* A new image that is not watched: nothing about it may arrive. */
	pid_t t = fork();
	if (t == 0) {
		char *const args[] = {"true", NULL};
		char *const env[] = {NULL};
		execve("/bin/true", args, env);
		_exit(127);
	}
	printf("true %d\n", t);
	waitpid(t, NULL, 0);
	printf("done\n");
	return 0;
}
