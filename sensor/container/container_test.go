package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hookwatch/hookwatch/internal/bounded"
)

const id = "3f1c6a2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		cgroup string
		want   Container
	}{
		{"0::/system.slice/docker-" + id + ".scope\n", Container{ID: id, Runtime: "docker"}},
		{"12:pids:/docker/" + id + "\n11:cpu:/docker/" + id + "\n", Container{ID: id, Runtime: "docker"}},
		{"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-" + id + ".scope\n", Container{ID: id, Runtime: "containerd"}},
		{"0::/kubepods/besteffort/pod0a1b2c3d/" + id + "\n", Container{ID: id, Runtime: "containerd"}},
		{"0::/machine.slice/crio-" + id + ".scope\n", Container{ID: id, Runtime: "cri-o"}},
		{"0::/machine.slice/libpod-" + id + ".scope/container\n", Container{ID: id, Runtime: "podman"}},
		{"0::/machine.slice/systemd-nspawn@deb\\x2dtest.service/payload/system.slice/ssh.service\n", Container{ID: "deb-test", Runtime: "systemd-nspawn"}},
		{"0::/lxc.payload.web1/init.scope\n", Container{ID: "web1", Runtime: "lxc"}},
		{"0::/user.slice/user-0.slice/session-3.scope\n", Container{}},
		{"0::/system.slice/docker.service\n", Container{}},
		{"garbage", Container{}},
	} {
		if got := Parse(c.cgroup); got != c.want {
			t.Errorf("Parse(%q) = %+v, want %+v", c.cgroup, got, c.want)
		}
	}
}

// The image comes from docker's state on disk, read once.
func TestDockerImage(t *testing.T) {
	proc, docker := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(proc, "42"), 0o755)
	os.WriteFile(filepath.Join(proc, "42", "cgroup"), []byte("0::/system.slice/docker-"+id+".scope\n"), 0o644)
	os.MkdirAll(filepath.Join(docker, "containers", id), 0o755)
	cfg := filepath.Join(docker, "containers", id, "config.v2.json")
	os.WriteFile(cfg, []byte(`{"Config":{"Image":"debian:bookworm"}}`), 0o644)
	r := &Resolver{Proc: proc, DockerDir: docker, images: bounded.New[string, string](maxImages)}
	if got := r.Of(42); got != (Container{ID: id, Runtime: "docker", Image: "debian:bookworm"}) {
		t.Errorf("Of = %+v", got)
	}
	os.Remove(cfg)
	if got := r.Of(42).Image; got != "debian:bookworm" {
		t.Errorf("image read again: %q", got)
	}
	if got := r.Of(43); got != (Container{}) {
		t.Errorf("a process that is gone: %+v", got)
	}
}
