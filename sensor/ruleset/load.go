package ruleset

// Loading: the built-in rules and the user's, each id once.

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/rulesdir"
)

// Load reads the built-in rules (all *.yml under builtin) and the user's
// rule files (read by rulesdir). Built-in rules that fail are a hard
// error: the binary is broken. User files that fail are returned as
// FileErrors alongside a set that holds every built-in rule and every good
// user rule.
func Load(builtin fs.FS, user []rulesdir.File) (*Set, []error, error) {
	return load(builtin, user, nil)
}

// LoadEdited is Load for someone editing the shipped rules: a user rule
// with the id of a built-in one is tested in its stead (`hookwatch rules
// test rules/sigma`), not refused as a duplicate.
func LoadEdited(builtin fs.FS, user []rulesdir.File) (*Set, []error, error) {
	edited := map[string]bool{}
	for _, f := range user {
		if r, err := Parse(f.Data, f.Path); err == nil {
			edited[r.ID] = true
		}
	}
	return load(builtin, user, edited)
}

func load(builtin fs.FS, user []rulesdir.File, skip map[string]bool) (*Set, []error, error) {
	s := &Set{rules: map[string][]*Rule{}}
	ids := map[string]string{}
	err := fs.WalkDir(builtin, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isRuleFile(p) {
			return err
		}
		b, err := fs.ReadFile(builtin, p)
		if err != nil {
			return err
		}
		r, err := Parse(b, "builtin:"+p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if skip[r.ID] {
			return nil
		}
		r.Builtin = true
		return s.add(r, ids)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("built-in rules: %w", err)
	}
	var userErrs []error
	for _, f := range user {
		r, err := Parse(f.Data, f.Path)
		if err == nil {
			err = s.add(r, ids)
		}
		if err != nil {
			userErrs = append(userErrs, &FileError{File: f.Path, Err: err})
		}
	}
	return s, userErrs, nil
}

func isRuleFile(name string) bool {
	return strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")
}

func (s *Set) add(r *Rule, ids map[string]string) error {
	if prev, ok := ids[r.ID]; ok {
		return fmt.Errorf("rule id %s is already used by %s", r.ID, prev)
	}
	ids[r.ID] = r.File
	cat := r.Logsource.Category
	s.rules[cat] = append(s.rules[cat], r)
	s.all = append(s.all, r)
	return nil
}
