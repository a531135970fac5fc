package loaderconf

import (
	"fmt"
	"strings"
	"testing"
)

func items(p Parsed) string {
	var out []string
	for _, it := range p.Items {
		out = append(out, fmt.Sprintf("%s:%s", it.Kind, it.Path))
	}
	return strings.Join(out, " ")
}

func TestParsePreload(t *testing.T) {
	p := ParsePreload("/etc/ld.so.preload", []byte("/tmp/a.so  /usr/$LIB/b.so:/c d.so\n#/x.so\n\n"))
	want := "preload:/tmp/a.so preload:/usr/lib/x86_64-linux-gnu/b.so preload:/c preload:d.so preload:#/x.so"
	if got := items(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	big := strings.Repeat("/tmp/x.so\n", 5000)
	if p := ParsePreload("p", []byte(big)); len(p.Items) != maxItems || !p.Truncated {
		t.Errorf("%d items, truncated %v", len(p.Items), p.Truncated)
	}
	if p := ParsePreload("p", []byte("\x00\xff\x01junk"+strings.Repeat("A", 100000))); len(p.Items) != 1 {
		t.Errorf("binary junk: %d items", len(p.Items))
	}
}

func TestParseLdConf(t *testing.T) {
	p := ParseLdConf("/etc/ld.so.conf", []byte("include /etc/ld.so.conf.d/*.conf\n# comment\n/usr/local/lib # trailing\n/opt/a,/opt/b\n"))
	want := "include:/etc/ld.so.conf.d/*.conf searchdir:/usr/local/lib searchdir:/opt/a searchdir:/opt/b"
	if got := items(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseEnvironment(t *testing.T) {
	p := ParseEnvironment("/etc/environment", []byte("PATH=\"/usr/bin\"\nexport LD_PRELOAD='/tmp/h.so'\n# LD_AUDIT=/x\nLD_LIBRARY_PATH=/dev/shm\n"))
	want := "preload:/tmp/h.so searchdir:/dev/shm"
	if got := items(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseUnit(t *testing.T) {
	unit := "[Service]\nEnvironment=\"FOO=a b\" LD_PRELOAD=/tmp/h.so\nEnvironment='LD_AUDIT=/tmp/a.so' \\\n  LD_LIBRARY_PATH=/tmp/lib\nEnvironmentFile=-/etc/default/evil\n; Environment=LD_PRELOAD=/commented.so\n"
	p := ParseUnit("x.service", []byte(unit))
	want := "preload:/tmp/h.so audit:/tmp/a.so searchdir:/tmp/lib"
	if got := items(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if len(p.EnvFiles) != 1 || p.EnvFiles[0] != "/etc/default/evil" {
		t.Errorf("env files %q", p.EnvFiles)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("preload", []byte("/tmp/a.so /b.so"))
	f.Add("ldconf", []byte("include x\n/usr/lib"))
	f.Add("environment", []byte("LD_PRELOAD=\"/x\""))
	f.Add("unit", []byte("[Service]\nEnvironment=\"LD_PRELOAD=/x\\\" y\"\\\n"))
	f.Add("pam", []byte("auth [success=1 default=ignore pam_unix.so\n@include\n-session optional pam_exec.so expose_authtok /x\n"))
	f.Add("pamconf", []byte("sshd auth required pam_x.so\n"))
	f.Add("nsswitch", []byte("passwd: files [NOTFOUND=return x\n:"))
	f.Add("sudoconf", []byte("Plugin a b\nPath noexec\n"))
	f.Add("sshconf", []byte("PKCS11Provider=\"/x\"\nInclude a b\n"))
	f.Fuzz(func(t *testing.T, kind string, b []byte) {
		p := Parse(kind, "f", b)
		if len(p.Items) > maxItems {
			t.Fatalf("%d items", len(p.Items))
		}
	})
}
