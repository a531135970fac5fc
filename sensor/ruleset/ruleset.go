// Package ruleset loads Sigma rules, checks that hookwatch can evaluate
// them, and matches the sensor's events against them with sigma-go. Rules
// come from the built-in set and from a directory of the user's; a bad user
// file is an error that names the file and the reason, and never takes a
// built-in rule out.
package ruleset

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
	"github.com/bradleyjkemp/sigma-go/evaluator/modifiers"
	"gopkg.in/yaml.v3"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

// The event categories hookwatch produces, named as in Sigma's taxonomy.
const (
	ProcessCreation = "process_creation"
	ImageLoad       = "image_load"
	FileEvent       = "file_event"
	ProcessAccess   = "process_access" // one process reaching into another's memory
)

// Categories lists them, for messages.
var Categories = []string{ProcessCreation, ImageLoad, FileEvent, ProcessAccess}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Rule is one Sigma rule ready to evaluate.
type Rule struct {
	sigma.Rule
	// Name is the rule's Sigma `name` (a stable slug), or its id.
	Name string
	// File is where the rule was read from; Builtin says it shipped.
	File    string
	Builtin bool
	// Tests are the rule's own sample events (its `tests:` block).
	Tests Tests

	eval *evaluator.RuleEvaluator
	memo *memo // verdicts by the values of the rule's fields
}

// Tests holds events a rule must match and events it must not.
type Tests struct {
	Match   []map[string]any `yaml:"match"`
	NoMatch []map[string]any `yaml:"no_match"`
}

// Set is the rules in force, by category.
type Set struct {
	rules map[string][]*Rule
	all   []*Rule
}

// FileError is a rule file that could not be used, and why.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Rules returns every rule, built-in first, in load order.
func (s *Set) Rules() []*Rule { return s.all }

// Parse reads one Sigma rule and checks that hookwatch can evaluate it;
// file names it in errors.
func Parse(b []byte, file string) (r *Rule, err error) {
	if sigma.InferFileType(b) != sigma.RuleFile {
		return nil, errors.New("not a Sigma rule: no detection section")
	}
	defer func() {
		// The condition parser panics on some malformed input.
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("unparseable rule: %v", p)
		}
	}()
	sr, err := sigma.ParseRule(b)
	if err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	r = &Rule{Rule: sr, File: file, Name: sr.ID}
	if n, ok := sr.AdditionalFields["name"].(string); ok && n != "" {
		r.Name = n
	}
	if t, ok := sr.AdditionalFields["tests"]; ok {
		if err := decodeTests(t, &r.Tests); err != nil {
			return nil, fmt.Errorf("tests: %w", err)
		}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	for i := range r.Detection.Conditions {
		r.Detection.Conditions[i].Search = simplify(r.Detection.Conditions[i].Search)
	}
	// `Field: null` (the field is absent) parses as a nil value, which
	// sigma-go's evaluator rejects; its comparator matches the string
	// "null" against an absent field instead.
	for _, s := range r.Detection.Searches {
		for _, em := range s.EventMatchers {
			for _, fm := range em {
				for i, v := range fm.Values {
					if v == nil {
						fm.Values[i] = "null"
					}
				}
			}
		}
	}
	// Mapping each field to itself sends lookups through sigma-go's mapped
	// path, which matches every element of a list-valued field (a process
	// can preload several libraries); unmapped lookups compare the list
	// as one string.
	mapping := sigma.Config{FieldMappings: map[string]sigma.FieldMapping{}}
	for _, f := range r.Fields() {
		mapping.FieldMappings[f] = sigma.FieldMapping{TargetNames: []string{f}}
	}
	r.eval = evaluator.ForRule(r.Rule, evaluator.WithConfig(mapping))
	r.memo = newMemo(r.Fields())
	return r, nil
}

func decodeTests(v any, t *Tests) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	return dec.Decode(t)
}

// check refuses what sigma-go cannot evaluate or hookwatch never produces,
// so a rule that loads is a rule that can fire.
func (r *Rule) check() error {
	var errs []error
	if strings.TrimSpace(r.Title) == "" {
		errs = append(errs, errors.New("title is missing"))
	}
	if !uuidRE.MatchString(r.ID) {
		errs = append(errs, fmt.Errorf("id %q is not a UUID (Sigma rule ids are UUIDs)", r.ID))
	}
	if _, ok := observation.ParseLevel(r.Level); !ok {
		errs = append(errs, fmt.Errorf("level %q is not one of %s", r.Level, strings.Join(observation.Names(), ", ")))
	}
	if p := r.Logsource.Product; p != "linux" {
		errs = append(errs, fmt.Errorf("logsource product %q: hookwatch sees linux events only", p))
	}
	known := false
	for _, c := range Categories {
		known = known || r.Logsource.Category == c
	}
	if !known {
		errs = append(errs, fmt.Errorf("logsource category %q: hookwatch produces %s", r.Logsource.Category, strings.Join(Categories, ", ")))
	}
	if r.Logsource.Service != "" {
		errs = append(errs, fmt.Errorf("logsource service %q: hookwatch's events have no service", r.Logsource.Service))
	}
	if len(r.Detection.Conditions) == 0 {
		errs = append(errs, errors.New("detection has no condition"))
	}
	if r.Detection.Timeframe != 0 {
		errs = append(errs, errors.New("timeframe: correlations over time are not supported"))
	}
	for name, s := range r.Detection.Searches {
		if len(s.Keywords) > 0 {
			errs = append(errs, fmt.Errorf("search %s: keyword searches are not supported (name the field)", name))
		}
		for _, em := range s.EventMatchers {
			for _, fm := range em {
				if err := checkField(fm); err != nil {
					errs = append(errs, fmt.Errorf("search %s: %w", name, err))
				}
			}
		}
	}
	for _, c := range r.Detection.Conditions {
		if c.Aggregation != nil {
			errs = append(errs, errors.New("condition: aggregations (count, near, ...) are not supported"))
		}
		if err := checkExpr(c.Search, r.Detection.Searches); err != nil {
			errs = append(errs, fmt.Errorf("condition: %w", err))
		}
	}
	return errors.Join(errs...)
}

func checkField(fm sigma.FieldMatcher) error {
	mods := fm.Modifiers
	if len(mods) > 0 && mods[len(mods)-1] == "all" {
		mods = mods[:len(mods)-1]
	}
	if _, err := modifiers.GetComparator(fm.Field, modifiers.Comparators, mods...); err != nil {
		return fmt.Errorf("field %s: %w", fm.Field, err)
	}
	for _, v := range fm.Values {
		switch v := v.(type) {
		case string:
			if strings.HasPrefix(v, "%") && strings.HasSuffix(v, "%") && len(v) > 1 {
				return fmt.Errorf("field %s: placeholder %s is not supported", fm.Field, v)
			}
			if slices.Contains(mods, "re") {
				if _, err := regexp.Compile(v); err != nil {
					return fmt.Errorf("field %s: %w", fm.Field, err)
				}
			}
		case int, float64, bool, nil:
		default:
			return fmt.Errorf("field %s: value %v is not a scalar", fm.Field, v)
		}
	}
	return nil
}

func checkExpr(e sigma.SearchExpr, searches map[string]sigma.Search) error {
	switch e := e.(type) {
	case sigma.And:
		return checkEach(e, searches)
	case sigma.Or:
		return checkEach(e, searches)
	case sigma.Not:
		return checkExpr(e.Expr, searches)
	case sigma.SearchIdentifier:
		if _, ok := searches[e.Name]; !ok {
			return fmt.Errorf("%s is not a search of this rule", e.Name)
		}
	case sigma.OneOfIdentifier:
		return checkExpr(e.Ident, searches)
	case sigma.AllOfIdentifier:
		return checkExpr(e.Ident, searches)
	case sigma.OneOfPattern:
		return checkPattern(e.Pattern, searches)
	case sigma.AllOfPattern:
		return checkPattern(e.Pattern, searches)
	case sigma.OneOfThem, sigma.AllOfThem:
	default:
		return fmt.Errorf("unsupported expression %T", e)
	}
	return nil
}

func checkEach(es []sigma.SearchExpr, searches map[string]sigma.Search) error {
	for _, x := range es {
		if err := checkExpr(x, searches); err != nil {
			return err
		}
	}
	return nil
}

// checkPattern refuses "1 of X*" when no search matches X*: sigma-go
// would treat it as false (or "all of" as true) without a word.
func checkPattern(p string, searches map[string]sigma.Search) error {
	for name := range searches {
		if ok, _ := path.Match(p, name); ok {
			return nil
		}
	}
	return fmt.Errorf("pattern %s names no search of this rule", p)
}

// simplify rewrites "1 of X" and "all of X" over a single identifier into
// X: sigma-go parses them but its evaluator does not handle them.
func simplify(e sigma.SearchExpr) sigma.SearchExpr {
	switch x := e.(type) {
	case sigma.And:
		return sigma.And(simplifyEach(x))
	case sigma.Or:
		return sigma.Or(simplifyEach(x))
	case sigma.Not:
		return sigma.Not{Expr: simplify(x.Expr)}
	case sigma.OneOfIdentifier:
		return x.Ident
	case sigma.AllOfIdentifier:
		return x.Ident
	}
	return e
}

func simplifyEach(es []sigma.SearchExpr) []sigma.SearchExpr {
	out := make([]sigma.SearchExpr, len(es))
	for i, e := range es {
		out[i] = simplify(e)
	}
	return out
}

// Fields lists the event fields a rule reads.
func (r *Rule) Fields() []string {
	seen := map[string]bool{}
	for _, s := range r.Detection.Searches {
		for _, em := range s.EventMatchers {
			for _, fm := range em {
				seen[fm.Field] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Reads lists, by category, the fields its rules read: what a document
// must carry for the rules, converted for the SIEM, to run there.
func (s *Set) Reads() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, r := range s.all {
		c := r.Logsource.Category
		if out[c] == nil {
			out[c] = map[string]bool{}
		}
		for _, f := range r.Fields() {
			out[c][f] = true
		}
	}
	return out
}

// FalseTested lists the fields some rule compares with false. Documents
// leave a false fact out (absent reads as false), except these: a field
// that is absent matches no value, and the rules, converted for the SIEM,
// run on the telemetry there.
func (s *Set) FalseTested() map[string]bool {
	out := map[string]bool{}
	for _, r := range s.all {
		for _, sr := range r.Detection.Searches {
			for _, em := range sr.EventMatchers {
				for _, fm := range em {
					for _, v := range fm.Values {
						if fmt.Sprint(v) == "false" {
							out[fm.Field] = true
						}
					}
				}
			}
		}
	}
	return out
}

// Match reports whether the rule matches an event: as it did for an event
// with the same values of the rule's fields, else by evaluating it.
func (r *Rule) Match(ev map[string]any) (bool, error) {
	if r.memo == nil {
		return r.evaluate(ev)
	}
	var buf [512]byte
	k, ok := r.memo.key(buf[:0], ev)
	if ok {
		if v, hit := r.memo.get(k); hit {
			return v, nil
		}
	}
	v, err := r.evaluate(ev)
	if ok && err == nil {
		r.memo.put(k, v)
	}
	return v, err
}

// evaluate runs sigma-go over the event.
func (r *Rule) evaluate(ev map[string]any) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("rule %s: evaluator panic: %v", r.ID, p)
		}
	}()
	res, err := r.eval.Matches(context.Background(), ev)
	if err != nil {
		return false, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	return res.Match, nil
}

// Match returns the rules of a category that match an event, in load
// order, and the errors of rules that could not be evaluated.
func (s *Set) Match(category string, ev map[string]any) ([]*Rule, []error) {
	var out []*Rule
	var errs []error
	for _, r := range s.rules[category] {
		ok, err := r.Match(ev)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, errs
}

// Test runs a rule against its own sample events. requireBoth demands at
// least one event of each kind (every shipped rule has both).
func (r *Rule) Test(requireBoth bool) []error {
	var errs []error
	if requireBoth && (len(r.Tests.Match) == 0 || len(r.Tests.NoMatch) == 0) {
		errs = append(errs, fmt.Errorf("needs at least one event under tests.match and one under tests.no_match"))
	}
	for i, ev := range r.Tests.Match {
		if ok, err := r.Match(ev); err != nil || !ok {
			errs = append(errs, fmt.Errorf("tests.match[%d] did not match%s", i, errSuffix(err)))
		}
	}
	for i, ev := range r.Tests.NoMatch {
		if ok, err := r.Match(ev); err != nil || ok {
			errs = append(errs, fmt.Errorf("tests.no_match[%d] matched%s", i, errSuffix(err)))
		}
	}
	return errs
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
