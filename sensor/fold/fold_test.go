package fold

import (
	"testing"
	"time"
)

func TestFoldsRepeatsWithinTheWindow(t *testing.T) {
	f, err := New(time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	a := Alert{Rule: "r1", Library: "sha", Target: "/usr/bin/ssh", PID: 1, Time: t0, Doc: "first"}
	if w, _ := f.Admit(a); !w {
		t.Fatal("the first alert was not written")
	}
	for i := 1; i < 100; i++ {
		a.PID, a.Time = uint32(i+1), t0.Add(time.Duration(i)*100*time.Millisecond)
		if w, _ := f.Admit(a); w {
			t.Fatalf("repeat %d written", i)
		}
	}
	// Another rule on the same library is its own alert (a higher level
	// never folds into a lower one).
	if w, _ := f.Admit(Alert{Rule: "r2", Library: "sha", Target: "/usr/bin/ssh", Time: t0}); !w {
		t.Error("another rule folded into the first")
	}
	if got := f.Expired(t0.Add(30 * time.Second)); len(got) != 0 {
		t.Errorf("closed early: %+v", got)
	}
	got := f.Expired(t0.Add(time.Minute))
	if len(got) != 1 || got[0].Count != 99 || got[0].First != "first" || len(got[0].SamplePIDs) != maxSample ||
		!got[0].Start.Equal(t0.Add(100*time.Millisecond)) || !got[0].End.Equal(t0.Add(9900*time.Millisecond)) {
		t.Fatalf("follow-up: %+v", got)
	}
	// After the window a new one opens with a written alert.
	if w, _ := f.Admit(Alert{Rule: "r1", Library: "sha", Target: "/usr/bin/ssh", Time: t0.Add(2 * time.Minute)}); !w {
		t.Error("the first alert of a new window was not written")
	}
	if got := f.Flush(); len(got) != 0 {
		t.Errorf("flush of windows without repeats: %+v", got)
	}
}

func TestDisabledAndBadKeys(t *testing.T) {
	f, _ := New(0, nil)
	for i := 0; i < 3; i++ {
		if w, _ := f.Admit(Alert{Rule: "r"}); !w {
			t.Fatal("a window of 0 folded")
		}
	}
	if _, err := New(time.Minute, []string{"rule", "colour"}); err == nil {
		t.Error("an unknown key part was accepted")
	}
	// The key decides what counts as a repeat.
	f, _ = New(time.Minute, []string{PartRule})
	f.Admit(Alert{Rule: "r", Target: "/a"})
	if w, _ := f.Admit(Alert{Rule: "r", Target: "/b"}); w {
		t.Error("with a key of the rule alone, another target is a repeat")
	}
}

// A flood of distinct keys closes the oldest windows early, their repeats
// still counted.
func TestBoundedGroups(t *testing.T) {
	f, _ := New(time.Hour, nil)
	t0 := time.Unix(0, 0)
	f.Admit(Alert{Rule: "first", Time: t0})
	f.Admit(Alert{Rule: "first", Time: t0})
	var closed []FollowUp
	for i := 0; i < maxGroups; i++ {
		_, c := f.Admit(Alert{Rule: "r", Target: string(rune(i)), Time: t0})
		closed = append(closed, c...)
	}
	if len(closed) != 1 || closed[0].Count != 1 || !closed[0].ClosedEarly || len(f.open) > maxGroups {
		t.Errorf("closed %+v, %d open", closed, len(f.open))
	}
}
