package probe

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64,arm64 -tags linux -type limits -type exec_hdr -type map_hdr -type file_hdr -type file_key -type file_op -type proc_info -type file_version -type stat_index -type kind -type watch_reason -type exec_flag -type map_flag -type access_hdr -type access_op -type access_flag -type vouch_key hookwatch ../../bpf/hookwatch.c -- -I../../bpf
