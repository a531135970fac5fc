package detect

import (
	"fmt"
	"testing"
)

// A library is judged once per process, whether the process has mapped a
// few (a list) or many (a set).
func TestFirstJudging(t *testing.T) {
	s := &procState{}
	for i := range 3 * smallJudged {
		k := fmt.Sprintf("/lib/l%d.so", i)
		if !s.firstJudging(k) {
			t.Fatalf("%s: not first, %d judged before", k, i)
		}
		if s.firstJudging(k) {
			t.Fatalf("%s: first again, %d judged before", k, i)
		}
	}
	if s.judgedSet == nil || s.firstJudging("/lib/l0.so") {
		t.Error("past the list, the set forgot the first library")
	}
}
