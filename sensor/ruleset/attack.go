package ruleset

// ATT&CK from a rule's tags.

import (
	"sort"
	"strings"
)

// Techniques returns the ATT&CK technique ids of the rule's tags
// (attack.t1574.006 becomes T1574.006).
func (r *Rule) Techniques() []string {
	var out []string
	for _, t := range r.Tags {
		t = strings.ToLower(t)
		if rest, ok := strings.CutPrefix(t, "attack.t"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			out = append(out, "T"+strings.ToUpper(rest))
		}
	}
	sort.Strings(out)
	return out
}

// Tactics returns the ATT&CK tactic names of the rule's tags, in the
// facts file's spelling (credential_access): Sigma 2's tags
// (attack.credential-access) and the older ones (attack.credential_access)
// alike. Technique (t1234), group (g0001) and software (s0001) tags are
// left out.
func (r *Rule) Tactics() []string {
	var out []string
	for _, t := range r.Tags {
		rest, ok := strings.CutPrefix(strings.ToLower(t), "attack.")
		if !ok || rest == "" || isATTACKID(rest) {
			continue
		}
		out = append(out, strings.ReplaceAll(rest, "-", "_"))
	}
	return out
}

// isATTACKID reports whether a tag is an ATT&CK object id: a letter then
// digits (t1574.006, g0007, s0001).
func isATTACKID(tag string) bool {
	return len(tag) > 1 && strings.ContainsRune("tgs", rune(tag[0])) && tag[1] >= '0' && tag[1] <= '9'
}
