package audit

// Writes to the watched configuration, with the writer and its ancestors.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/sensor/event"
)

func (c *Collector) fileOp(h event.Handler, name string, sc map[string]string, paths []map[string]string, cwd string, when time.Time) {
	abs := func(p string) string {
		if p != "" && !strings.HasPrefix(p, "/") && cwd != "" {
			return filepath.Join(cwd, p)
		}
		return p
	}
	var created, deleted, normal string
	for _, p := range paths {
		switch p["nametype"] {
		case "CREATE":
			created = abs(p["name"])
		case "DELETE":
			deleted = abs(p["name"])
		case "NORMAL":
			normal = abs(p["name"])
		}
	}
	op := &event.FileOp{Proc: proc(sc, when, 0), Ancestors: c.ancestors(atou(sc["ppid"]))}
	switch {
	case strings.HasPrefix(name, "rename"):
		op.Op, op.Path, op.Path2 = "rename", deleted, created
	case strings.HasPrefix(name, "unlink"):
		op.Op, op.Path = "unlink", deleted
	case strings.HasPrefix(name, "link"):
		op.Op, op.Path, op.Path2 = "link", normal, created
	case strings.HasPrefix(name, "symlink"):
		op.Op, op.Path2 = "symlink", created
	case strings.HasPrefix(name, "truncate"):
		op.Op, op.Path = "truncate", normal
	default:
		op.Op = "open-write"
		op.Path = normal
		if created != "" {
			op.Path = created
		}
	}
	if op.Path == "" && op.Path2 == "" {
		return
	}
	if fi, err := os.Stat(op.Path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			op.Dev, op.Ino = st.Dev, st.Ino
		}
	}
	c.files.Add(1)
	h.FileOp(op)
}

// ancestors are the comms of the parent chain, read from /proc.
func (c *Collector) ancestors(ppid uint32) []string {
	var out []string
	for i := 0; i < 4 && ppid > 1; i++ {
		st, err := c.cfg.Proc.Stat(ppid)
		if err != nil {
			break
		}
		out = append(out, st.Comm)
		ppid = st.PPID
	}
	return out
}
