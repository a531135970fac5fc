package loaderconf

import (
	"strings"
	"testing"
)

func itemsOf(p Parsed) string {
	var out []string
	for _, it := range p.Items {
		out = append(out, string(it.Kind)+"="+it.Value+"@"+it.Path)
	}
	return strings.Join(out, "\n")
}

func TestParsePAM(t *testing.T) {
	stack := `# comment
auth    [success=1 default=ignore]  pam_unix.so nullok
auth	requisite			pam_deny.so
-session optional pam_systemd.so
session optional /opt/vendor/pam_vendor.so debug
auth optional pam_exec.so quiet expose_authtok /usr/local/bin/grab.sh
@include common-session
account required pam_unix.so # trailing comment
`
	got := itemsOf(ParsePAM("/etc/pam.d/sudo", []byte(stack), false))
	for _, want := range []string{
		"module=pam_unix.so@/usr/lib/x86_64-linux-gnu/security/pam_unix.so",
		"module=pam_deny.so@",
		"module=pam_systemd.so@",
		"module=/opt/vendor/pam_vendor.so@/opt/vendor/pam_vendor.so",
		"module=pam_exec.so@",
		"pam_exec_authtok=quiet expose_authtok /usr/local/bin/grab.sh@/usr/local/bin/grab.sh",
		"include=common-session@/etc/pam.d/common-session",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "success=1") {
		t.Errorf("a bracketed control taken for a module:\n%s", got)
	}
	// pam.conf lines start with the service.
	conf := ParsePAM("/etc/pam.conf", []byte("sshd auth required pam_rogue.so\n"), true)
	if got := itemsOf(conf); !strings.Contains(got, "module=pam_rogue.so@") {
		t.Errorf("pam.conf: %s", got)
	}
	// pam_exec without expose_authtok is only a module.
	if got := itemsOf(ParsePAM("/etc/pam.d/x", []byte("session optional pam_exec.so /usr/bin/logger\n"), false)); strings.Contains(got, KindPAMExecAuthtok) {
		t.Errorf("pam_exec without expose_authtok: %s", got)
	}
}

func TestParseNSSwitch(t *testing.T) {
	got := itemsOf(ParseNSSwitch("/etc/nsswitch.conf", []byte("passwd: files systemd [NOTFOUND=return] rogue\nhosts: files dns\n# group: ldap\n")))
	for _, want := range []string{"nss=passwd:systemd@", "libnss_systemd.so.2", "nss=passwd:rogue@", "libnss_rogue.so.2"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, not := range []string{"files", "dns", "NOTFOUND", "ldap"} {
		if strings.Contains(got, ":"+not+"@") {
			t.Errorf("%s taken for a module:\n%s", not, got)
		}
	}
}

func TestParseSudoConf(t *testing.T) {
	got := itemsOf(ParseSudoConf("/etc/sudo.conf", []byte("Plugin sudoers_policy sudoers.so\nPlugin rogue_io /tmp/rogue.so\nPath noexec /usr/libexec/sudo/sudo_noexec.so\nSet disable_coredump true\n")))
	for _, want := range []string{"module=sudoers_policy sudoers.so@/usr/", "module=rogue_io /tmp/rogue.so@/tmp/rogue.so", "preload=/usr/libexec/sudo/sudo_noexec.so@/usr/libexec/sudo/sudo_noexec.so"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestParseSSHConf(t *testing.T) {
	got := itemsOf(ParseSSHConf("/etc/ssh/ssh_config", []byte("Host *\n  PKCS11Provider /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\n  securitykeyprovider=/tmp/sk.so\nInclude /etc/ssh/ssh_config.d/*.conf\nPKCS11Provider none\nSendEnv LANG\n")))
	for _, want := range []string{"module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so@", "module=/tmp/sk.so@/tmp/sk.so", "include=/etc/ssh/ssh_config.d/*.conf@"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "none") || strings.Contains(got, "LANG") {
		t.Errorf("took a non-library value:\n%s", got)
	}
}
