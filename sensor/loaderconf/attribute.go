package loaderconf

// Attribution: the kernel's reports of who touched a file, matched to the
// changes the watcher sees.

import "github.com/hookwatch/hookwatch/sensor/event"

// Attribute records the kernel's report of a process touching a file.
func (w *Watcher) Attribute(op *event.FileOp) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ops) >= maxOps {
		w.ops = append(w.ops[:0], w.ops[maxOps/2:]...)
	}
	w.ops = append(w.ops, op)
}

// attribute finds the kernel's report that explains a change: the newest
// operation on the path (either name of a rename or link) or, for writes,
// on the file's old or new inode.
func (w *Watcher) attribute(c *Change, oldIno uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cutoff := c.Time.Add(-attributionWindow)
	pids := map[uint32]bool{}
	for i := len(w.ops) - 1; i >= 0; i-- {
		op := w.ops[i]
		if op.Time.Before(cutoff) {
			break
		}
		match := op.Path == c.Path || op.Path2 == c.Path ||
			(op.Op == "open-write" && op.Ino != 0 && (op.Ino == c.Ino || op.Ino == oldIno))
		if !match {
			continue
		}
		pids[op.PID] = true
		if c.Writer == nil {
			c.Writer = op
			if op.Op == "rename" && op.Path == c.Path && !c.Exists {
				c.Type, c.RenamedTo = "rename", op.Path2
			}
			if op.Op == "rename" && op.Path2 == c.Path && c.Exists {
				c.RenamedFrom = op.Path
			}
		}
	}
	c.Writers = len(pids)
}
