// Package rulesdir reads the user's rules directory once: Sigma rules and
// allowlists side by side, told apart by their top-level key, for the
// ruleset and allowlist packages to parse.
package rulesdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is one file of the directory and its contents.
type File struct {
	Path string
	Data []byte
}

// Dir is what a rules directory holds.
type Dir struct {
	Rules      []File
	Allowlists []File
	// Errs are the files, or the directory itself, that could not be
	// read; what was read is still in Rules and Allowlists.
	Errs []error
}

// Read reads every *.yml and *.yaml file directly in dir, in name order.
// "" or a missing directory holds nothing.
func Read(dir string) Dir {
	var d Dir
	if dir == "" {
		return d
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return d
	}
	if err != nil {
		d.Errs = append(d.Errs, fmt.Errorf("%s: reading rules directory: %w", dir, err))
		return d
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml")) {
			continue
		}
		f := File{Path: filepath.Join(dir, n)}
		if f.Data, err = os.ReadFile(f.Path); err != nil {
			d.Errs = append(d.Errs, err)
			continue
		}
		if IsAllowlist(f.Data) {
			d.Allowlists = append(d.Allowlists, f)
		} else {
			d.Rules = append(d.Rules, f)
		}
	}
	return d
}

// IsAllowlist reports whether a YAML document is an allowlist (its
// top-level key is `allowlist`) rather than a Sigma rule.
func IsAllowlist(b []byte) bool {
	var top map[string]yaml.Node
	if yaml.Unmarshal(b, &top) != nil {
		return false
	}
	_, ok := top["allowlist"]
	return ok
}
