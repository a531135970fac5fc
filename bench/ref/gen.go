// Package ref holds the benchmark's reference BPF programs.
package ref

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64,arm64 -tags linux ref ref.c -- -I../../bpf
