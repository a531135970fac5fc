package ecs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FollowUp is the document that closes a window in which n repeats of the
// alert first were folded: the first alert's document with a new id,
// event.start and event.end the first and last repeat, and the count and a
// sample of the repeats' process ids as labels (folded_count,
// folded_pids).
func (e *Encoder) FollowUp(first *Doc, n int, start, end time.Time, pids []uint32) *Doc {
	d := first.Clone()
	d.Event.ID = newID()
	d.Event.Created = ts(e.now())
	d.Event.Start, d.Event.End = ts(start), ts(end)
	d.Timestamp, d.Time = ts(end), end
	sample := make([]string, len(pids))
	for i, p := range pids {
		sample[i] = strconv.FormatUint(uint64(p), 10)
	}
	label(d, "folded_count", strconv.Itoa(n))
	label(d, "folded_pids", strings.Join(sample, " "))
	if first.Message != "" {
		d.Message = clean(fmt.Sprintf("%d more within the window (%s to %s), folded: %s", n, ts(start), ts(end), first.Message))
	}
	return d
}
