package loaderconf

// What a change added and removed: loader items and lines.

import (
	"strings"

	"github.com/hookwatch/hookwatch/sensor/ldso"
)

func itemKey(it ldso.Item) string { return string(it.Kind) + "\x00" + it.Path }

func diffItems(old, cur []ldso.Item) (added, removed []ldso.Item) {
	had := map[string]bool{}
	for _, it := range old {
		had[itemKey(it)] = true
	}
	has := map[string]bool{}
	for _, it := range cur {
		has[itemKey(it)] = true
		if !had[itemKey(it)] {
			added = append(added, it)
		}
	}
	for _, it := range old {
		if !has[itemKey(it)] {
			removed = append(removed, it)
		}
	}
	return added, removed
}

// diffLines lists lines added and removed (as multisets), bounded.
func diffLines(old, cur []byte) (added, removed []string) {
	count := map[string]int{}
	for _, l := range strings.Split(string(old), "\n") {
		count[l]++
	}
	for _, l := range strings.Split(string(cur), "\n") {
		if count[l] > 0 {
			count[l]--
		} else if l != "" && len(added) < maxDiffLines {
			added = append(added, l)
		}
	}
	for _, l := range strings.Split(string(old), "\n") {
		if count[l] > 0 && l != "" && len(removed) < maxDiffLines {
			removed = append(removed, l)
			count[l]--
		}
	}
	return added, removed
}
