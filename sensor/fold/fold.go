// Package fold folds repeats of an alert: the first alert for a key (by
// default the rule, the library's digest and the target executable) goes
// out at once; repeats within the window are counted, not written, and
// when the window ends one follow-up says how many there were, when the
// first and last were, and a sample of their processes. Nothing is lost:
// every repeat is in a follow-up's count.
package fold

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Parts of a fold key.
const (
	PartRule    = "rule"    // the rule that fired (so a higher level never folds into a lower one)
	PartLibrary = "library" // the library's SHA-256 (its path when unknown)
	PartTarget  = "target"  // the executable, or the file, the alert is about
	PartUser    = "user"    // the user id of the process
)

// Parts are the parts a key may name.
var Parts = []string{PartRule, PartLibrary, PartTarget, PartUser}

// DefaultKey is the key when the configuration names none.
var DefaultKey = []string{PartRule, PartLibrary, PartTarget}

// maxSample bounds the process ids a follow-up lists.
const maxSample = 10

// maxGroups bounds the open windows: past it, the oldest is closed early
// (its follow-up goes out at once), so a flood of distinct keys costs
// memory in proportion to the bound, not the flood.
const maxGroups = 4096

// Alert is what the folder needs to know of an alert.
type Alert struct {
	Rule, Library, Target, User string
	PID                         uint32
	Time                        time.Time
	Doc                         any // the first alert's document, handed back in the follow-up
}

// FollowUp is the closing of a window in which repeats were folded.
type FollowUp struct {
	First       any // the document of the alert written at once
	Count       int // repeats folded (not counting the first)
	Start, End  time.Time
	SamplePIDs  []uint32
	ClosedEarly bool // the folder was full
}

type group struct {
	opened      time.Time
	first       any
	count       int
	start, end  time.Time
	pids        []uint32
	closedEarly bool
}

// Folder folds repeats; it is not safe for concurrent use (the agent's
// worker owns it).
type Folder struct {
	window time.Duration
	parts  []string
	open   map[string]*group
	order  []string // keys by opening time, for closing the oldest early
}

// New returns a folder; a window of 0 folds nothing.
func New(window time.Duration, key []string) (*Folder, error) {
	if len(key) == 0 {
		key = DefaultKey
	}
	for _, p := range key {
		if !slices.Contains(Parts, p) {
			return nil, fmt.Errorf("fold key part %q: not one of %s", p, strings.Join(Parts, ", "))
		}
	}
	return &Folder{window: window, parts: key, open: map[string]*group{}}, nil
}

func (f *Folder) key(a Alert) string {
	var b strings.Builder
	for _, p := range f.parts {
		switch p {
		case PartRule:
			b.WriteString(a.Rule)
		case PartLibrary:
			b.WriteString(a.Library)
		case PartTarget:
			b.WriteString(a.Target)
		case PartUser:
			b.WriteString(a.User)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// Admit says whether an alert is to be written now. A repeat within its
// key's window is counted instead. closed are windows closed early to make
// room, to be written at once.
func (f *Folder) Admit(a Alert) (write bool, closed []FollowUp) {
	if f.window <= 0 {
		return true, nil
	}
	k := f.key(a)
	if g := f.open[k]; g != nil && a.Time.Sub(g.opened) < f.window {
		if g.count == 0 {
			g.start = a.Time
		}
		g.count++
		g.end = a.Time
		if len(g.pids) < maxSample && !slices.Contains(g.pids, a.PID) {
			g.pids = append(g.pids, a.PID)
		}
		return false, nil
	}
	if g := f.open[k]; g != nil {
		// The window ended without a tick closing it yet.
		closed = append(closed, f.close(k)...)
	}
	for len(f.open) >= maxGroups && len(f.order) > 0 {
		f.open[f.order[0]].closedEarly = true
		closed = append(closed, f.close(f.order[0])...)
	}
	f.open[k] = &group{opened: a.Time, first: a.Doc}
	f.order = append(f.order, k)
	return true, closed
}

// close ends a window; a follow-up when repeats were folded in it.
func (f *Folder) close(k string) []FollowUp {
	g := f.open[k]
	delete(f.open, k)
	if i := slices.Index(f.order, k); i >= 0 {
		f.order = slices.Delete(f.order, i, i+1)
	}
	if g == nil || g.count == 0 {
		return nil
	}
	return []FollowUp{{First: g.first, Count: g.count, Start: g.start, End: g.end, SamplePIDs: g.pids, ClosedEarly: g.closedEarly}}
}

// Expired closes the windows that ended by now.
func (f *Folder) Expired(now time.Time) []FollowUp {
	var out []FollowUp
	for len(f.order) > 0 {
		k := f.order[0]
		if now.Sub(f.open[k].opened) < f.window {
			break // opened in order: the rest are younger
		}
		out = append(out, f.close(k)...)
	}
	return out
}

// Flush closes every window (at exit, or when the rules change).
func (f *Folder) Flush() []FollowUp {
	var out []FollowUp
	for len(f.order) > 0 {
		out = append(out, f.close(f.order[0])...)
	}
	return out
}
