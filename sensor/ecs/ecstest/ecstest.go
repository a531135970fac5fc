// Package ecstest validates documents against the official ECS 9.4.0 field
// schema (testdata/ecs_flat-9.4.0.yml): every field exists, every value fits
// its field's type, and the event categorisation fields use allowed values.
// Every test that emits ECS runs its output through Validate.
package ecstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

type field struct {
	Type          string   `yaml:"type"`
	Normalize     []string `yaml:"normalize"`
	AllowedValues []struct {
		Name               string   `yaml:"name"`
		ExpectedEventTypes []string `yaml:"expected_event_types"`
	} `yaml:"allowed_values"`
}

// Schema is the flat ECS field set.
type Schema struct {
	fields map[string]*field
}

var (
	once    sync.Once
	schema  *Schema
	errLoad error
)

// Load reads the schema shipped in testdata (once per test binary).
func Load() (*Schema, error) {
	once.Do(func() {
		_, self, _, _ := runtime.Caller(0)
		p := filepath.Join(filepath.Dir(self), "testdata", "ecs_flat-9.4.0.yml")
		b, err := os.ReadFile(p)
		if err != nil {
			errLoad = fmt.Errorf("reading ECS schema: %w", err)
			return
		}
		s := &Schema{}
		if err := yaml.Unmarshal(b, &s.fields); err != nil {
			errLoad = fmt.Errorf("parsing ECS schema: %w", err)
			return
		}
		schema = s
	})
	return schema, errLoad
}

// ValidateJSON checks one JSON document (one line of hookwatch output).
func ValidateJSON(line []byte) error {
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	return Validate(doc)
}

// Validate checks a decoded document.
func Validate(doc map[string]any) error {
	s, err := Load()
	if err != nil {
		return err
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	var errs []error
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.check(k, flat[k]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, req := range []string{"@timestamp", "ecs.version", "event.kind"} {
		if _, ok := flat[req]; !ok {
			errs = append(errs, fmt.Errorf("%s is missing", req))
		}
	}
	errs = append(errs, s.categorisation(flat)...)
	return errors.Join(errs...)
}

func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, vv := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		flatten(name, vv, out)
	}
}

func (s *Schema) check(name string, v any) error {
	f := s.fields[name]
	if f == nil {
		// labels is an object of custom keyword values.
		if rest, ok := strings.CutPrefix(name, "labels."); ok && !strings.Contains(rest, ".") {
			if _, isStr := v.(string); !isStr {
				return fmt.Errorf("%s: labels hold strings, got %T", name, v)
			}
			return nil
		}
		return fmt.Errorf("%s is not an ECS 9.4.0 field", name)
	}
	vals := []any{v}
	if arr, ok := v.([]any); ok {
		if !contains(f.Normalize, "array") && len(arr) > 1 {
			return fmt.Errorf("%s holds %d values but is not an array field", name, len(arr))
		}
		vals = arr
	} else if arr, ok := v.([]string); ok {
		vals = nil
		for _, a := range arr {
			vals = append(vals, a)
		}
	}
	for _, x := range vals {
		if err := typeCheck(f.Type, x); err != nil {
			return fmt.Errorf("%s (%s): %w", name, f.Type, err)
		}
	}
	return nil
}

func typeCheck(typ string, v any) error {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "text", "match_only_text", "ip", "version":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("want a string, got %T %v", v, v)
		}
	case "date":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a date string, got %T", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return fmt.Errorf("not an RFC 3339 date: %w", err)
		}
	case "long", "integer", "short", "byte", "unsigned_long":
		if !isInteger(v) {
			return fmt.Errorf("want an integer, got %T %v", v, v)
		}
	case "float", "double", "scaled_float", "half_float":
		if !isNumber(v) {
			return fmt.Errorf("want a number, got %T %v", v, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want a boolean, got %T", v)
		}
	case "object", "flattened", "nested":
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("want an object, got %T", v)
		}
	default:
		return fmt.Errorf("unhandled ECS type %q", typ)
	}
	return nil
}

func isInteger(v any) bool {
	switch n := v.(type) {
	case json.Number:
		_, err := n.Int64()
		return err == nil
	case int, int32, int64, uint32, uint64:
		return true
	case float64:
		return n == float64(int64(n))
	}
	return false
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, int, int32, int64, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// categorisation checks event.kind/category/type against the allowed values,
// and each type against the types its categories expect.
func (s *Schema) categorisation(flat map[string]any) []error {
	var errs []error
	allowed := func(name string) map[string][]string {
		out := map[string][]string{}
		for _, a := range s.fields[name].AllowedValues {
			out[a.Name] = a.ExpectedEventTypes
		}
		return out
	}
	kinds, cats, types := allowed("event.kind"), allowed("event.category"), allowed("event.type")
	if k, ok := flat["event.kind"].(string); ok {
		if _, ok := kinds[k]; !ok {
			errs = append(errs, fmt.Errorf("event.kind %q is not allowed", k))
		}
	}
	catVals, typeVals := strs(flat["event.category"]), strs(flat["event.type"])
	expected := map[string]bool{}
	for _, c := range catVals {
		exp, ok := cats[c]
		if !ok {
			errs = append(errs, fmt.Errorf("event.category %q is not allowed", c))
		}
		for _, t := range exp {
			expected[t] = true
		}
	}
	for _, t := range typeVals {
		if _, ok := types[t]; !ok {
			errs = append(errs, fmt.Errorf("event.type %q is not allowed", t))
		} else if len(catVals) > 0 && !expected[t] {
			errs = append(errs, fmt.Errorf("event.type %q is not expected for categories %v", t, catVals))
		}
	}
	return errs
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
