// Package rules holds hookwatch's detection data: the facts the sensor
// computes (which programs are credential programs, which loader variables
// matter, where libraries may come from, what credential programs load on
// purpose, how findings are scored) in facts.yaml, the Sigma rules that
// decide which events are alerts (sigma/), and the allowlists of software
// that preloads on purpose (allowlists/). This package embeds them and
// parses the facts; sensor/ruleset and sensor/allowlist read the rest.
package rules

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed facts.yaml
var builtin []byte

//go:embed sigma/*.yml
var sigmaFS embed.FS

//go:embed allowlists/*.yml
var allowFS embed.FS

// Sigma returns the built-in Sigma rules.
func Sigma() fs.FS { return sigmaFS }

// Allowlists returns the built-in allowlists.
func Allowlists() fs.FS { return allowFS }

// Set is one loaded set of conditions.
type Set struct {
	CredentialPrograms []string   `yaml:"credential_programs"`
	LoaderNames        []string   `yaml:"loader_names"`
	LoaderVariables    []string   `yaml:"loader_variables"`
	Locations          []Location `yaml:"locations"`
	ExpectedLibraries  []string   `yaml:"expected_libraries"`
	// UntrustedLocations are the location classes where anyone can plant
	// a library (or where it is on no disk at all).
	UntrustedLocations []string `yaml:"untrusted_locations"`
	Scoring            Scoring  `yaml:"scoring"`
	// Techniques names the ATT&CK techniques the rules' tags refer to.
	Techniques map[string]*Technique `yaml:"techniques"`
	// Tactics names the ATT&CK tactics the rules' tags refer to
	// (attack.credential-access, or the older attack.credential_access), by
	// tag name in the older spelling.
	Tactics    map[string]*Ref `yaml:"tactics"`
	Judgement  Judgement       `yaml:"judgement"`
	LoaderConf LoaderConf      `yaml:"loader_config"`
}

// LoaderConf names the loader's configuration and who may change it.
type LoaderConf struct {
	Files              []ConfPath `yaml:"files"`
	Directories        []ConfPath `yaml:"directories"`
	KernelPrefixes     []string   `yaml:"kernel_prefixes"`
	PackageManagers    []string   `yaml:"package_managers"`
	CacheWriters       []string   `yaml:"cache_writers"`
	MaxFileBytes       int64      `yaml:"max_file_bytes"`
	SystemInterpreters []string   `yaml:"system_interpreters"`
}

// ConfPath is one watched file or directory and how to read it.
type ConfPath struct {
	Path      string `yaml:"path"`
	Kind      string `yaml:"kind"` // preload, ldconf, cache, environment, unit, pam, pamconf, nsswitch, sudoconf, sshconf
	Recursive bool   `yaml:"recursive"`
}

// Kinds of loader configuration.
var confKinds = map[string]bool{"preload": true, "ldconf": true, "cache": true, "environment": true, "unit": true,
	"pam": true, "pamconf": true, "nsswitch": true, "sudoconf": true, "sshconf": true}

// Judgement configures library judgement.
type Judgement struct {
	InterposedSymbols []string       `yaml:"interposed_symbols"`
	HidingSymbols     []string       `yaml:"hiding_symbols"`
	HidingStrings     []string       `yaml:"hiding_strings"`
	MaxHashBytes      int64          `yaml:"max_hash_bytes"`
	HashTimeout       time.Duration  `yaml:"hash_timeout"`
	Weights           map[string]int `yaml:"weights"`
}

// ProgramDirs are the directories packages install credential programs and
// loaders into, searched by name: audit's exec filters by path, and the
// packaged program a copy or a patched build of a credential program is
// compared with.
var ProgramDirs = []string{"/usr/bin", "/usr/sbin", "/usr/lib/openssh", "/usr/libexec", "/lib64",
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/policykit-1", "/usr/lib/polkit-1"}

// Judgement finding keys, the weights' names.
const (
	FindingPackageModified     = "package_modified"
	FindingSymlinkRetargeted   = "symlink_retargeted"
	FindingUnownedInSystemDir  = "unowned_in_system_dir"
	FindingHidesFromInspection = "hides_from_inspection"
	FindingInterposes          = "interposes_credential_functions"
	FindingOverridesImports    = "overrides_target_imports"
	FindingNonRootWritable     = "non_root_writable"
	FindingPackageIntact       = "package_intact"
)

// SymbolMatch reports whether name matches one of the globs.
func SymbolMatch(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Ref names an ATT&CK object.
type Ref struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	Reference string `yaml:"reference"`
}

// Technique is an ATT&CK (sub-)technique with its parent and tactics.
type Technique struct {
	Name      string `yaml:"name"`
	Reference string `yaml:"reference"`
	Parent    *Ref   `yaml:"parent"`
	Tactics   []Ref  `yaml:"tactics"`
}

// Location is a class of library location, by path prefix.
type Location struct {
	Class    string   `yaml:"class"`
	Prefixes []string `yaml:"prefixes"`
}

// Scoring weighs findings into a risk score and a severity level.
type Scoring struct {
	Target             map[string]int `yaml:"target"`
	Location           map[string]int `yaml:"location"`
	SearchPathDiscount int            `yaml:"search_path_discount"`
	// Access weighs a process reaching into a credential process by what
	// the operation allows (read, write, attach) and takes by_parent off
	// when the caller started the target (a debugger). Absent keys weigh 0.
	Access map[string]int `yaml:"access"`
}

// Builtin returns the conditions shipped in the binary.
func Builtin() (*Set, error) {
	return Parse(builtin, "builtin facts.yaml")
}

// Load reads conditions from a file.
func Load(file string) (*Set, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	return Parse(b, file)
}

// Parse decodes and checks conditions; name is used in errors.
func Parse(b []byte, name string) (*Set, error) {
	var s Set
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

func (s *Set) check() error {
	var errs []error
	if len(s.CredentialPrograms) == 0 {
		errs = append(errs, errors.New("credential_programs is empty"))
	}
	for _, v := range s.LoaderVariables {
		if v == "" || strings.ContainsAny(v, "=\x00") {
			errs = append(errs, fmt.Errorf("loader_variables: %q is not a variable name", v))
		}
	}
	for _, g := range s.ExpectedLibraries {
		if _, err := path.Match(g, ""); err != nil || !strings.HasPrefix(g, "/") {
			errs = append(errs, fmt.Errorf("expected_libraries: %q is not an absolute glob", g))
		}
	}
	for _, k := range []string{"credential", "other"} {
		if _, ok := s.Scoring.Target[k]; !ok {
			errs = append(errs, fmt.Errorf("scoring.target.%s is missing", k))
		}
	}
	for _, k := range []string{"system", "other", "relative", "deleted", "memfd"} {
		if _, ok := s.Scoring.Location[k]; !ok {
			errs = append(errs, fmt.Errorf("scoring.location.%s is missing", k))
		}
	}
	for _, l := range s.Locations {
		if _, ok := s.Scoring.Location[l.Class]; !ok {
			errs = append(errs, fmt.Errorf("locations: class %q has no weight in scoring.location", l.Class))
		}
	}
	for _, k := range []string{FindingPackageModified, FindingSymlinkRetargeted, FindingUnownedInSystemDir,
		FindingHidesFromInspection, FindingInterposes, FindingOverridesImports, FindingNonRootWritable, FindingPackageIntact} {
		if _, ok := s.Judgement.Weights[k]; !ok {
			errs = append(errs, fmt.Errorf("judgement.weights.%s is missing", k))
		}
	}
	if s.Judgement.MaxHashBytes <= 0 || s.Judgement.HashTimeout <= 0 {
		errs = append(errs, errors.New("judgement.max_hash_bytes and judgement.hash_timeout must be positive"))
	}
	for _, c := range append(append([]ConfPath{}, s.LoaderConf.Files...), s.LoaderConf.Directories...) {
		if !strings.HasPrefix(c.Path, "/") || !confKinds[c.Kind] {
			errs = append(errs, fmt.Errorf("loader_config: %q (kind %q) needs an absolute path and a kind of preload, ldconf, cache, environment, unit, pam, pamconf, nsswitch, sudoconf or sshconf", c.Path, c.Kind))
		}
	}
	if len(s.LoaderConf.KernelPrefixes) > 16 {
		errs = append(errs, fmt.Errorf("loader_config.kernel_prefixes: %d, the kernel matches at most 16", len(s.LoaderConf.KernelPrefixes)))
	}
	for _, p := range s.LoaderConf.KernelPrefixes {
		if !strings.HasPrefix(p, "/") || len(p) > 64 {
			errs = append(errs, fmt.Errorf("loader_config.kernel_prefixes: %q must be absolute and at most 64 bytes", p))
		}
	}
	for _, c := range s.UntrustedLocations {
		if _, ok := s.Scoring.Location[c]; !ok {
			errs = append(errs, fmt.Errorf("untrusted_locations: class %q has no weight in scoring.location", c))
		}
	}
	return errors.Join(errs...)
}

// IsCredentialProgram reports whether an executable name is a credential
// program, comparing as the kernel does: on the first 15 bytes.
func (s *Set) IsCredentialProgram(name string) bool {
	for _, p := range s.CredentialPrograms {
		if name == p || (len(name) >= 15 && len(p) >= 15 && name[:15] == p[:15]) {
			return true
		}
	}
	return false
}

// IsCredential reports whether a process handles credentials: by its
// executable's name or its comm (the kernel's 15 bytes of it), either of
// which may be all that is known ("" for the other).
func (s *Set) IsCredential(executable, comm string) bool {
	return executable != "" && s.IsCredentialProgram(path.Base(executable)) || comm != "" && s.IsCredentialProgram(comm)
}

// IsLoader reports whether an executable name is the dynamic loader's.
func (s *Set) IsLoader(name string) bool {
	for _, p := range s.LoaderNames {
		if name == p {
			return true
		}
	}
	return false
}

// IsPackageManager reports whether a comm (15 bytes) is a package manager's.
func (s *Set) IsPackageManager(comm string) bool {
	return commIn(s.LoaderConf.PackageManagers, comm)
}

// IsCacheWriter reports whether a comm is ldconfig's.
func (s *Set) IsCacheWriter(comm string) bool {
	return commIn(s.LoaderConf.CacheWriters, comm)
}

func commIn(names []string, comm string) bool {
	for _, n := range names {
		if n == comm || (len(n) > 15 && n[:15] == comm) {
			return true
		}
	}
	return false
}

// IsLoaderVariable reports whether NAME is a configured loader variable.
func (s *Set) IsLoaderVariable(name string) bool {
	for _, v := range s.LoaderVariables {
		if v == name {
			return true
		}
	}
	return false
}

// LoaderEnv keeps the entries of an environment (KEY=VALUE) that set a
// loader variable, in their order.
func (s *Set) LoaderEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if s.IsLoaderVariable(name) {
			out = append(out, kv)
		}
	}
	return out
}

// LocationClass classes a library path: deleted and memfd come from the
// kernel's flags, the rest from the configured prefixes.
func (s *Set) LocationClass(p string, deleted, memfd bool) string {
	switch {
	case memfd || strings.HasPrefix(p, "/memfd:"):
		return "memfd"
	case deleted:
		return "deleted"
	case !strings.HasPrefix(p, "/"):
		return "relative"
	}
	for _, l := range s.Locations {
		for _, pre := range l.Prefixes {
			if strings.HasPrefix(p, pre) {
				return l.Class
			}
		}
	}
	return "other"
}

// ExpectedFamily reports whether a library path matches one of the families
// credential programs load on purpose.
func (s *Set) ExpectedFamily(p string) bool {
	for _, g := range s.ExpectedLibraries {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// IsUntrustedLocation reports whether a location class is one where anyone
// can plant a library.
func (s *Set) IsUntrustedLocation(class string) bool {
	for _, c := range s.UntrustedLocations {
		if c == class {
			return true
		}
	}
	return false
}
