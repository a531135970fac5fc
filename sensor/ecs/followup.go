package ecs

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// FollowUp is the document that closes a window in which n repeats of the
// alert first were folded: the first alert's document with a new id,
// event.start and event.end the first and last repeat, and the count and a
// sample of the repeats' process ids as labels (folded_count,
// folded_pids).
func (e *Encoder) FollowUp(first Doc, n int, start, end time.Time, pids []uint32) Doc {
	d := maps.Clone(first)
	ev, _ := first["event"].(Doc)
	ev = maps.Clone(ev)
	if ev == nil {
		ev = Doc{}
	}
	ev["id"] = newID()
	ev["created"] = ts(e.now())
	ev["start"] = ts(start)
	ev["end"] = ts(end)
	d["event"] = ev
	d["@timestamp"] = ts(end)
	labels, _ := first["labels"].(Doc)
	labels = maps.Clone(labels)
	if labels == nil {
		labels = Doc{}
	}
	sample := make([]string, len(pids))
	for i, p := range pids {
		sample[i] = strconv.FormatUint(uint64(p), 10)
	}
	labels["folded_count"] = strconv.Itoa(n)
	labels["folded_pids"] = strings.Join(sample, " ")
	d["labels"] = labels
	if m, ok := first["message"].(string); ok {
		d["message"] = clean(fmt.Sprintf("%d more within the window (%s to %s), folded: %s", n, ts(start), ts(end), m))
	}
	return d
}
