package allowlist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/rulesdir"
)

func TestBuiltinCoversPathAndBytesOnly(t *testing.T) {
	l, errs, err := Load(rules.Allowlists(), nil)
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	yes, no := true, false
	stdbuf := "/usr/libexec/coreutils/libstdbuf.so"
	for _, c := range []struct {
		name string
		j    *judge.Judgement
		want string
	}{
		{"packaged and intact", &judge.Judgement{Path: stdbuf, Exists: true, Package: "coreutils", Intact: &yes}, "stdbuf"},
		{"multiarch package name", &judge.Judgement{Path: "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", Exists: true, Package: "libfaketime:amd64", Intact: &yes}, "libfaketime"},
		{"modified bytes", &judge.Judgement{Path: stdbuf, Exists: true, Package: "coreutils", Intact: &no}, ""},
		{"no recorded digest", &judge.Judgement{Path: stdbuf, Exists: true, Package: "coreutils"}, ""},
		{"unowned", &judge.Judgement{Path: stdbuf, Exists: true}, ""},
		{"owned by another package", &judge.Judgement{Path: stdbuf, Exists: true, Package: "evil", Intact: &yes}, ""},
		{"same name elsewhere", &judge.Judgement{Path: "/tmp/libstdbuf.so", Exists: true, Package: "coreutils", Intact: &yes}, ""},
		{"jemalloc name in tmp", &judge.Judgement{Path: "/tmp/libjemalloc.so.2", Exists: true}, ""},
		{"gone", &judge.Judgement{Path: stdbuf}, ""},
	} {
		got := ""
		if e := l.Match(c.j); e != nil {
			got = e.Name
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if l.Match(nil) != nil {
		t.Error("nil judgement matched")
	}
}

func TestUserFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hash := strings.Repeat("ab", 32)
	write("agent.yml", "allowlist:\n  - name: acme-agent\n    description: ACME's EDR preloads its sensor\n    paths: [/opt/acme/lib/libacme.so]\n    sha256: ["+hash+"]\n")
	write("byname.yml", "allowlist:\n  - name: jemalloc-anywhere\n    description: d\n    paths: [\"/*/libjemalloc.so\"]\n")
	write("dup.yml", "allowlist:\n  - name: stdbuf\n    description: d\n    paths: [/x.so]\n    packages: [x]\n")
	write("typo.yml", "allowlist:\n  - name: t\n    description: d\n    path: [/x.so]\n")
	write("rule.yml", "title: a rule\ndetection: {}\n")
	l, errs, err := Load(rules.Allowlists(), rulesdir.Read(dir).Allowlists)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"byname.yml": "needs packages or sha256", "dup.yml": "already defined", "typo.yml": "field path not found"}
	if len(errs) != len(want) {
		t.Errorf("errors %v", errs)
	}
	for _, e := range errs {
		ok := false
		for f, w := range want {
			ok = ok || (strings.Contains(e.Error(), f) && strings.Contains(e.Error(), w))
		}
		if !ok {
			t.Errorf("unexpected error %v", e)
		}
	}
	for _, e := range errs {
		if strings.Contains(e.Error(), "byname.yml") && !strings.Contains(e.Error(), "under a fixed top directory") {
			t.Errorf("a path of /*/name is a name alone: %v", e)
		}
	}
	j := &judge.Judgement{Path: "/opt/acme/lib/libacme.so", Exists: true, SHA256: hash}
	if e := l.Match(j); e == nil || e.Name != "acme-agent" {
		t.Errorf("hash entry: %v", e)
	}
	// A judgement is never changed once made (verdicts are cached per
	// judgement): the truncated hash is another judgement.
	j2 := *j
	j2.HashTruncated = true
	if e := l.Match(&j2); e != nil {
		t.Errorf("a hash of a prefix vouched for the file: %v", e)
	}
}

// An allowlist file is outside input: entries or an error, never a panic,
// never both.
func FuzzParse(f *testing.F) {
	f.Add([]byte("allowlist:\n  - {name: x, description: y, paths: [/opt/x.so], packages: [x]}\n"))
	f.Add([]byte("allowlist: [{}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := Parse(b, "fuzz.yml")
		if (es == nil) == (err == nil) {
			t.Fatalf("entries %v and error %v", es, err)
		}
		if err == nil {
			l := &List{entries: es}
			l.Match(&judge.Judgement{Path: "/opt/x.so", Exists: true})
		}
	})
}
