package probe

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedObjectsAreFresh rebuilds the BPF objects exactly as
// `make generate` does (the go:generate line in each gen.go) into a scratch
// directory and compares them with the committed ones: a change to bpf/*.c
// (or the benchmark's references) without regenerating fails here.
func TestGeneratedObjectsAreFresh(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatal("clang is needed to check the committed BPF objects: apt-get install clang llvm (see .ci/run)")
	}
	for _, c := range []struct{ dir, pkg string }{{".", "probe"}, {"../../bench/ref", "ref"}} {
		t.Run(c.pkg, func(t *testing.T) { checkGenerated(t, c.dir, c.pkg) })
	}
}

func checkGenerated(t *testing.T, dir, pkg string) {
	src, err := os.ReadFile(filepath.Join(dir, "gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(src), "\n") {
		if s, ok := strings.CutPrefix(l, "//go:generate "); ok {
			line = s
		}
	}
	args := splitQuoted(line)
	if len(args) < 3 || args[0] != "go" || args[1] != "tool" || args[2] != "bpf2go" {
		t.Fatalf("unexpected go:generate line %q", line)
	}
	// Read the sources here too: go test's cache then knows the result
	// depends on them (it cannot see what clang reads).
	srcs, _ := filepath.Glob("../../bpf/*.c")
	refs, _ := filepath.Glob("../../bench/ref/*.c")
	hdrs, _ := filepath.Glob("../../bpf/headers/*.h")
	local, _ := filepath.Glob("../../bpf/*.h")
	hdrs = append(hdrs, local...)
	for _, f := range append(append(srcs, refs...), hdrs...) {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	args = append([]string{"tool", "bpf2go", "-output-dir", out}, args[3:]...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPACKAGE="+pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bpf2go: %v\n%s", err, b)
	}
	gen, _ := filepath.Glob(filepath.Join(out, "*_bpfel.*"))
	if len(gen) != 4 {
		t.Fatalf("bpf2go wrote %d files, want 4: %v", len(gen), gen)
	}
	for _, g := range gen {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join(dir, filepath.Base(g)))
		if err != nil {
			t.Fatalf("committed %s: %v", filepath.Base(g), err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run make generate and commit the result", filepath.Base(g))
		}
	}
}

// splitQuoted splits a command line on spaces, keeping "double quoted" runs.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
