package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The same preload run 100 times within a minute is loud once: its first
// alert goes out at once, and the repeats are folded into follow-ups whose
// counts add up to the 99 others, per rule; the metric counts them too.
func TestRepeatedAttackIsFolded(t *testing.T) {
	hook := compileHook(t)
	s := startSensor(t, "-fold-window", "3s", "-no-sweep")
	const n = 100
	ours := map[float64]bool{}
	for i := 0; i < n; i++ {
		c := exec.Command("/bin/true")
		c.Env = append(os.Environ(), "LD_PRELOAD="+hook)
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		ours[float64(c.Process.Pid)] = true
	}
	var firsts, followUps map[string]int
	s.waitUntil(fmt.Sprintf("%d alerts per rule, first and folded", n), 30*time.Second, func(docs []map[string]any) (bool, string) {
		firsts, followUps = map[string]int{}, map[string]int{}
		for _, d := range docs {
			pid, _ := get(d, "process.pid").(float64)
			if str(d, "event.kind") != "alert" || !ours[pid] {
				continue
			}
			rule := str(d, "event.action")
			if c := str(d, "labels.folded_count"); c != "" {
				k, _ := strconv.Atoi(c)
				followUps[rule] += k
				if str(d, "event.start") == "" || str(d, "event.end") == "" || str(d, "labels.folded_pids") == "" {
					t.Errorf("follow-up without its window or sample: %v", d)
				}
			} else {
				firsts[rule]++
			}
		}
		if len(firsts) == 0 {
			return false, "no alert yet"
		}
		for rule := range firsts {
			if firsts[rule]+followUps[rule] != n {
				return false, fmt.Sprintf("%s: %d written, %d folded", rule, firsts[rule], followUps[rule])
			}
		}
		return true, ""
	})
	for rule, k := range firsts {
		// One first alert per window of 3 s: a minute of repeats is a
		// handful of documents, not a hundred.
		if k > 5 {
			t.Errorf("%s: %d alerts written for %d repeats", rule, k, n)
		}
	}
	s.stop()
	folded, _ := s.finalCounters()["alerts_folded"].(float64)
	want := 0
	for _, k := range followUps {
		want += k
	}
	if int(folded) != want {
		t.Errorf("alerts_folded = %v, follow-ups count %d", folded, want)
	}
}
