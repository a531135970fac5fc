package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookwatch/hookwatch/internal/testlock"
)

// The test image: a debootstrap of Debian 12 (minbase, with ssh, sudo and
// pam_tmpdir, which the host does not have) imported into docker, built
// once per machine and kept.
const (
	testImage     = "hookwatch-test:bookworm2"
	testImageRoot = "/var/cache/hookwatch-test/bookworm2"
	tmpdirModule  = "usr/lib/x86_64-linux-gnu/security/pam_tmpdir.so"
)

// requireDocker starts dockerd when none answers (CI machines have no
// systemd to start it) and builds the test image when it is missing.
func requireDocker(t *testing.T) {
	t.Helper()
	requireRoot(t)
	for _, tool := range []string{"docker", "dockerd", "debootstrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: apt-get install docker.io debootstrap (make deps)", tool)
		}
	}
	testlock.Hold(t, "docker")
	if exec.Command("docker", "info").Run() != nil {
		log, err := os.OpenFile("/var/log/hookwatch-test-dockerd.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		d := exec.Command("dockerd")
		d.Stdout, d.Stderr = log, log
		if err := d.Start(); err != nil {
			t.Fatalf("starting dockerd: %v", err)
		}
		// Left running for the other tests, as a service would be.
		deadline := time.Now().Add(60 * time.Second)
		for exec.Command("docker", "info").Run() != nil {
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(log.Name())
				t.Fatalf("dockerd did not answer:\n%s", b)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if exec.Command("docker", "image", "inspect", testImage).Run() == nil {
		return
	}
	if _, err := os.Stat(filepath.Join(testImageRoot, tmpdirModule)); err != nil {
		tmp := testImageRoot + ".tmp"
		os.RemoveAll(tmp)
		os.MkdirAll(filepath.Dir(tmp), 0o755)
		out, err := exec.Command("debootstrap", "--variant=minbase", "--include=openssh-client,sudo,libpam-tmpdir", "bookworm", tmp, "http://deb.debian.org/debian").CombinedOutput()
		if err != nil {
			t.Fatalf("debootstrap: %v\n%s", err, out)
		}
		os.RemoveAll(testImageRoot)
		if err := os.Rename(tmp, testImageRoot); err != nil {
			t.Fatal(err)
		}
	}
	imp := exec.Command("sh", "-c", "tar -C "+testImageRoot+" -c . | docker import - "+testImage)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
}

// dockerRun runs a command in a new container of the test image (off the
// network, removed after) and returns the container's id.
func dockerRun(t *testing.T, args ...string) string {
	t.Helper()
	cid := filepath.Join(t.TempDir(), "cid")
	all := append([]string{"run", "--rm", "--network", "none", "--cidfile", cid}, args...)
	if out, err := exec.Command("docker", all...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	b, err := os.ReadFile(cid)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A container's processes are judged as the container's: a plain run of
// its shell, coreutils and ssh (the container's own loader, which the
// kernel does not know) raises nothing; a preloaded ssh in it raises the
// critical alert naming the container and the library's path in it, and
// the credential program by its name.
func TestContainerProcesses(t *testing.T) {
	requireDocker(t)
	hook := compileHook(t)
	// Every credential program start written: the plain run's ssh must be
	// seen, and named as the container's, to count for anything.
	s := startSensor(t, "-telemetry", "all")

	plain := dockerRun(t, testImage, "sh", "-c", "true; cp /bin/true /tmp/t; /tmp/t; ssh -V 2>/dev/null; sudo -n true")
	hooked := dockerRun(t, "-v", filepath.Dir(hook)+":/tmp/h:ro", "-e", "LD_PRELOAD=/tmp/h/"+filepath.Base(hook), testImage, "ssh", "-V")

	a := s.waitFor("the preloaded ssh in the container", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-credential-untrusted") && str(d, "container.id") == hooked
	})
	if str(a, "process.name") != "ssh" || str(a, "container.runtime") != "docker" || str(a, "container.image.name") != testImage ||
		!strings.HasPrefix(str(a, "event.reason"), "ssh is a credential program") || !strings.Contains(str(a, "event.reason"), "/tmp/h/") {
		t.Errorf("alert: process %q container %q/%q reason %q", str(a, "process.name"), str(a, "container.runtime"), str(a, "container.image.name"), str(a, "event.reason"))
	}
	if str(a, "labels.severity_level") != "critical" {
		t.Errorf("level %q, want critical", str(a, "labels.severity_level"))
	}
	s.waitFor("the hook mapped into the container's ssh", func(d map[string]any) bool {
		return isAlert(d, "unexpected-library-untrusted") && str(d, "container.id") == hooked && str(d, "dll.path") == "/tmp/h/"+filepath.Base(hook)
	})
	// The hooked run came after the plain one: its events were handled.
	// sudo's PAM session loaded pam_tmpdir, which only the container has:
	// judged against the container's package, and expected.
	seen, tmpdir := false, false
	for _, d := range s.docs() {
		if str(d, "container.id") != plain {
			continue
		}
		seen = seen || (str(d, "event.action") == "exec" && str(d, "process.name") == "ssh")
		tmpdir = tmpdir || (str(d, "dll.path") == "/"+tmpdirModule && strings.HasPrefix(str(d, "package.name"), "libpam-tmpdir"))
		if str(d, "event.kind") == "alert" {
			t.Errorf("plain container run raised %s: %s", str(d, "event.action"), str(d, "event.reason"))
		}
	}
	if !seen {
		t.Errorf("the plain container's ssh was not reported with container.id %s", plain)
	}
	if _, err := os.Stat("/" + tmpdirModule); err == nil {
		t.Logf("the host has pam_tmpdir too: the test shows less")
	}
	if !tmpdir {
		t.Errorf("sudo's pam_tmpdir in the container was not judged as the container's libpam-tmpdir")
	}

	// A library changed inside the container (the host's copy intact) is
	// judged against the container's own package: tampered.
	libz := "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"
	tampered := dockerRun(t, testImage, "sh", "-c", "printf x >> "+libz+"; ssh -V 2>/dev/null; sleep 1")
	a = s.waitFor("the container's tampered libz", func(d map[string]any) bool {
		return isAlert(d, "tampered-library") && str(d, "container.id") == tampered && str(d, "dll.path") == libz
	})
	if !strings.Contains(str(a, "event.reason"), "zlib1g") {
		t.Errorf("tampered libz: reason %q does not name the container's package", str(a, "event.reason"))
	}

	// The container's own /etc/ld.so.preload written (the host's is not
	// touched): an alert naming the container and the writer.
	preloaded := dockerRun(t, "-v", filepath.Dir(hook)+":/h:ro", testImage, "sh", "-c",
		"cp /h/"+filepath.Base(hook)+" /tmp/hook.so; echo /tmp/hook.so > /etc/ld.so.preload; sleep 1")
	a = s.waitFor("the container's preload file", func(d map[string]any) bool {
		return isAlert(d, "preload-file-library-added") && str(d, "container.id") == preloaded
	})
	if str(a, "file.path") != "/etc/ld.so.preload" || str(a, "process.name") != "sh" || !strings.Contains(str(a, "event.reason"), "/tmp/hook.so") {
		t.Errorf("container preload alert: file %q writer %q reason %q", str(a, "file.path"), str(a, "process.name"), str(a, "event.reason"))
	}
}
