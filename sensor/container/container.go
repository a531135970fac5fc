// Package container tells which container a process runs in: from its
// cgroup path (docker, containerd/CRI, CRI-O, podman, systemd-nspawn, LXC),
// and the image name where the runtime keeps it on disk (docker). No
// runtime API is asked: the answer must come from files, cheaply, on the
// event path.
package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hookwatch/hookwatch/internal/bounded"
)

// Container is a process's container; the zero value is the host.
type Container struct {
	ID      string // the runtime's id (64 hex digits) or machine name
	Runtime string // docker, containerd, cri-o, podman, systemd-nspawn, lxc
	Image   string // image name, when the runtime's state says it
}

// patterns match a cgroup path's container component, most specific first.
var patterns = []struct {
	re      *regexp.Regexp
	runtime string
}{
	{regexp.MustCompile(`(?:^|/)docker-([0-9a-f]{64})\.scope(?:/|$)`), "docker"},
	{regexp.MustCompile(`(?:^|/)docker/([0-9a-f]{64})(?:/|$)`), "docker"},
	{regexp.MustCompile(`(?:^|/)cri-containerd-([0-9a-f]{64})\.scope(?:/|$)`), "containerd"},
	{regexp.MustCompile(`(?:^|/)crio-([0-9a-f]{64})\.scope(?:/|$)`), "cri-o"},
	{regexp.MustCompile(`(?:^|/)libpod-([0-9a-f]{64})\.scope(?:/|$)`), "podman"},
	{regexp.MustCompile(`(?:^|/)kubepods[^/]*/(?:[^/]+/)*(?:pod[^/]+/)([0-9a-f]{64})(?:/|$)`), "containerd"},
	{regexp.MustCompile(`(?:^|/)machine\.slice/systemd-nspawn@([^/]+)\.service(?:/|$)`), "systemd-nspawn"},
	{regexp.MustCompile(`(?:^|/)machine\.slice/machine-([^/]+)\.scope(?:/|$)`), "systemd-nspawn"},
	{regexp.MustCompile(`(?:^|/)lxc\.payload\.([^/]+)(?:/|$)`), "lxc"},
}

// Parse finds the container in the contents of /proc/PID/cgroup (either
// cgroup version): the zero Container when there is none.
func Parse(cgroup string) Container {
	for _, line := range strings.Split(cgroup, "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, p := range patterns {
			if m := p.re.FindStringSubmatch(parts[2]); m != nil {
				id := m[1]
				if p.runtime == "systemd-nspawn" {
					id = unescape(id)
				}
				return Container{ID: id, Runtime: p.runtime}
			}
		}
	}
	return Container{}
}

// unescape undoes systemd's unit name escaping of a machine name (\x2d is
// a dash).
func unescape(s string) string {
	return strings.ReplaceAll(s, `\x2d`, "-")
}

// Resolver names containers: Of reads a process's cgroup, and the image
// from the runtime's state, once per container.
type Resolver struct {
	// Proc is /proc; DockerDir docker's state (/var/lib/docker).
	Proc, DockerDir string

	images *bounded.Map[string, string]
}

// NewResolver reads the live system.
func NewResolver() *Resolver {
	return &Resolver{Proc: "/proc", DockerDir: "/var/lib/docker", images: bounded.New[string, string](maxImages)}
}

// maxImages bounds the image names kept.
const maxImages = 4096

// Of is the container process pid runs in (the zero Container: the host,
// or the process is gone).
func (r *Resolver) Of(pid uint32) Container {
	b, err := os.ReadFile(filepath.Join(r.Proc, itoa(pid), "cgroup"))
	if err != nil {
		return Container{}
	}
	c := Parse(string(b))
	if c.Runtime == "docker" {
		c.Image = r.dockerImage(c.ID)
	}
	return c
}

// FromPath is the container of a cgroup path the kernel gave
// ("/docker/<id>", "/system.slice/docker-<id>.scope").
func (r *Resolver) FromPath(cgroupPath string) Container {
	c := Parse("0::" + cgroupPath)
	if c.Runtime == "docker" {
		c.Image = r.dockerImage(c.ID)
	}
	return c
}

// dockerImage is the image a docker container was created from, as its
// config.v2.json says (read once per container).
func (r *Resolver) dockerImage(id string) string {
	img, ok := r.images.Get(id)
	if ok {
		return img
	}
	var cfg struct {
		Config struct {
			Image string `json:"Image"`
		} `json:"Config"`
	}
	if b, err := os.ReadFile(filepath.Join(r.DockerDir, "containers", id, "config.v2.json")); err == nil {
		if json.Unmarshal(b, &cfg) == nil {
			img = cfg.Config.Image
		}
	}
	r.images.Put(id, img)
	return img
}

func itoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
