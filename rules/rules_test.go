package rules

import (
	"strings"
	"testing"
)

func TestBuiltinLoads(t *testing.T) {
	s, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ssh", "sshd", "sudo", "su", "passwd", "unix_chkpwd", "polkit-agent-helper-1"} {
		if !s.IsCredentialProgram(p) {
			t.Errorf("%s is not a credential program", p)
		}
	}
	if s.IsCredentialProgram("cat") {
		t.Error("cat is a credential program")
	}
	// comm keeps 15 bytes: the kernel reports polkit-agent-helper-1 as polkit-agent-he.
	if !s.IsCredentialProgram("polkit-agent-he") {
		t.Error("truncated comm not matched")
	}
}

func TestLocationClass(t *testing.T) {
	s, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path           string
		deleted, memfd bool
		want           string
	}{
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", false, false, "system"},
		{"/tmp/hook.so", false, false, "temporary"},
		{"/dev/shm/x.so", false, false, "temporary"},
		{"/home/bob/x.so", false, false, "home"},
		{"/usr/local/lib/x.so", false, false, "usr_local"},
		{"/tmp/hook.so", true, false, "deleted"},
		{"/memfd:x", false, true, "memfd"},
		{"hook.so", false, false, "relative"},
		{"/srv/x.so", false, false, "other"},
	} {
		if got := s.LocationClass(c.path, c.deleted, c.memfd); got != c.want {
			t.Errorf("LocationClass(%q) = %s, want %s", c.path, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"credential_programs: [ssh]\nbogus: 1\n", "field bogus not found"},
		{"credential_programs: []\n", "credential_programs is empty"},
		{"credential_programs: [ssh]\n", "scoring.target.credential is missing"},
		{"credential_programs: [ssh]\nuntrusted_locations: [nowhere]\n", "class \"nowhere\" has no weight"},
		{"credential_programs: [ssh]\nloader_variables: [\"LD=X\"]\n", "not a variable name"},
		{"credential_programs: [ssh]\nexpected_libraries: [\"rel/*.so\"]\n", "not an absolute glob"},
		{"credential_programs: [ssh\n", "did not find expected"},
	} {
		_, err := Parse([]byte(c.doc), "test.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "test.yaml") {
			t.Errorf("Parse(%q) error = %v, want it to name the file and say %q", c.doc, err, c.want)
		}
	}
}

// One test of "handles credentials" and one filter of loader variables,
// for every caller.
func TestCredentialAndLoaderEnv(t *testing.T) {
	s, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		exe, comm string
		want      bool
	}{
		{"/usr/bin/ssh", "", true}, {"", "sudo", true}, {"/tmp/x", "passwd", true}, {"/usr/bin/true", "true", false}, {"", "", false},
	} {
		if got := s.IsCredential(c.exe, c.comm); got != c.want {
			t.Errorf("IsCredential(%q, %q) = %v", c.exe, c.comm, got)
		}
	}
	got := s.LoaderEnv([]string{"PATH=/bin", "LD_PRELOAD=/a.so", "LD_PRELOADX=1", "LD_AUDIT=", "HOME=/root"})
	if strings.Join(got, " ") != "LD_PRELOAD=/a.so LD_AUDIT=" {
		t.Errorf("LoaderEnv: %q", got)
	}
}
