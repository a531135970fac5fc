package detect

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

func TestProviderArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"ssh", "-I", "/usr/lib/opensc-pkcs11.so", "host"}, []string{"/usr/lib/opensc-pkcs11.so"}},
		{[]string{"ssh-keygen", "-D", "/usr/lib/p11.so"}, []string{"/usr/lib/p11.so"}},
		{[]string{"ssh-add", "-s/usr/lib/p11.so"}, []string{"/usr/lib/p11.so"}},
		{[]string{"ssh", "-o", "PKCS11Provider=/opt/p.so", "h"}, []string{"/opt/p.so"}},
		{[]string{"ssh-agent", "-P", "/usr/lib/a.so,/usr/lib/b.so"}, []string{"/usr/lib/a.so", "/usr/lib/b.so"}},
		{[]string{"ssh", "-i", "/root/.ssh/id", "host"}, nil},
	} {
		if got := providerArgs(c.args); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.args, got, c.want)
		}
	}
}

// A library a credential program loads because its configuration names it
// is expected when its package vouches for it (sudo's default plugin and
// what it needs: sudoers.so, libpam, libz), and stays unexpected when it
// is the attacker's choice (a provider in /tmp named on the command line).
func TestLoadedOnPurpose(t *testing.T) {
	sudo, err := exec.LookPath("sudo")
	if err != nil {
		t.Fatal("sudo is needed: apt-get install sudo (make deps)")
	}
	sudoers := "/usr/libexec/sudo/sudoers.so"
	if _, err := os.Stat(sudoers); err != nil {
		t.Fatalf("sudo's default plugin: %v", err)
	}
	e := engine(t)
	load := func(p *proctable.Process, path string) (string, *Event) {
		t.Helper()
		il := &event.ImageLoad{Path: path}
		if id, err := ldso.StatID(path); err == nil {
			il.Dev, il.Ino = id.Dev, id.Ino
		}
		ev, _, _, _ := e.ImageLoad(p, nil, il, 0, 0)
		return fired(t, e, ev), ev
	}
	p := &proctable.Process{Executable: sudo, Credential: true, Args: []string{"sudo", "-n", "true"}}
	for _, lib := range []string{sudoers, "/usr/lib/x86_64-linux-gnu/libpam.so.0", "/usr/lib/x86_64-linux-gnu/libz.so.1"} {
		real, _ := filepath.EvalSymlinks(lib)
		if got, ev := load(p, real); got != "" || ev.Fields["Expected"] != true {
			t.Errorf("%s in sudo: %q expected=%v", real, got, ev.Fields["Expected"])
		}
	}

	// The same plugin's bytes copied to /tmp and named as a provider.
	b, _ := os.ReadFile(sudoers)
	evil := filepath.Join(t.TempDir(), "provider.so")
	os.WriteFile(evil, b, 0o755)
	ssh, _ := exec.LookPath("ssh")
	q := &proctable.Process{Executable: ssh, Credential: true, Args: []string{"ssh", "-I", evil, "host"}}
	if got, ev := load(q, evil); got == "" || ev.Fields["Expected"] != false {
		t.Errorf("a provider in /tmp named with -I: %q expected=%v", got, ev.Fields["Expected"])
	}
}
