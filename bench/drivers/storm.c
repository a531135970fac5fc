// storm: fork and exec PROGRAM N times, one after the other, each with the
// given environment (VAR=VALUE arguments after --).
//   storm N PROGRAM [ARG...] [-- VAR=VALUE...]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: storm N PROGRAM [ARG...] [-- VAR=VALUE...]\n");
		return 2;
	}
	long n = atol(argv[1]);
	char **args = &argv[2];
	char **env = &argv[argc]; /* empty */
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			argv[i] = NULL;
			env = &argv[i + 1];
			break;
		}
	}
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execve(args[0], args, env);
			_exit(127);
		}
		int st;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "child failed\n");
			return 1;
		}
	}
	return 0;
}
