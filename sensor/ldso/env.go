package ldso

import (
	"debug/elf"
	"runtime"
	"strings"
)

// Kind says how the loader uses a named item.
type Kind string

// Kinds of items the loader's variables and flags name.
const (
	Preload   Kind = "preload"   // mapped into the process before anything else
	Audit     Kind = "audit"     // an rtld-audit module: sees every symbol binding
	SearchDir Kind = "searchdir" // searched before the default directories
)

// Item is one library or directory named by a loader variable or flag.
type Item struct {
	Kind   Kind
	Source string // the variable or flag that named it: LD_PRELOAD, --preload
	Value  string // as written
	Path   string // after the loader's $LIB/$PLATFORM expansion
}

// FromEnv returns what the loader variables in env ("NAME=value" strings)
// name. Separators are the loader's: LD_PRELOAD splits on spaces and colons,
// LD_AUDIT on colons, LD_LIBRARY_PATH on colons and semicolons. Variables the
// loader does not interpret are returned with Kind "" so they are still seen.
func FromEnv(env []string) []Item {
	var out []Item
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch name {
		case "LD_PRELOAD":
			out = append(out, split(Preload, name, val, " :")...)
		case "LD_AUDIT":
			out = append(out, split(Audit, name, val, ":")...)
		case "LD_LIBRARY_PATH":
			out = append(out, split(SearchDir, name, val, ":;")...)
		default:
			out = append(out, Item{Source: name, Value: val, Path: val})
		}
	}
	return out
}

func split(kind Kind, source, val, seps string) []Item {
	var out []Item
	for _, f := range strings.FieldsFunc(val, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		out = append(out, Item{Kind: kind, Source: source, Value: f, Path: ExpandTokens(f, runtime.GOARCH)})
	}
	return out
}

// Invocation is the dynamic loader run as a program.
type Invocation struct {
	Items   []Item
	Program string   // the program it loads, "" for --list/--verify/--help
	Args    []string // the program's arguments
	Mode    string   // "", or list, verify, help, version
}

// ParseInvocation reads ld.so's own command line (argv[0] is the loader):
// ld.so [--preload LIST] [--audit LIST] [--library-path PATH] ... PROGRAM ARGS.
func ParseInvocation(argv []string) Invocation {
	var inv Invocation
	args := argv
	if len(args) > 0 {
		args = args[1:]
	}
	for len(args) > 0 {
		a := args[0]
		if !strings.HasPrefix(a, "--") {
			break
		}
		args = args[1:]
		opt, val, inline := strings.Cut(a, "=")
		takes := map[string]bool{
			"--preload": true, "--audit": true, "--library-path": true, "--inhibit-rpath": true,
			"--argv0": true, "--glibc-hwcaps-prefix": true, "--glibc-hwcaps-mask": true,
		}
		if takes[opt] && !inline {
			if len(args) == 0 {
				break
			}
			val, args = args[0], args[1:]
		}
		switch opt {
		case "--preload":
			inv.Items = append(inv.Items, split(Preload, opt, val, " :")...)
		case "--audit":
			inv.Items = append(inv.Items, split(Audit, opt, val, ":")...)
		case "--library-path":
			inv.Items = append(inv.Items, split(SearchDir, opt, val, ":;")...)
		case "--list", "--verify", "--help", "--version":
			inv.Mode = strings.TrimPrefix(opt, "--")
		case "--":
			// End of options.
		}
		if a == "--" {
			break
		}
	}
	if len(args) > 0 {
		inv.Program, inv.Args = args[0], args[1:]
	}
	return inv
}

// ExpandTokens expands the loader's dynamic string tokens that do not depend
// on the loading object: $LIB and $PLATFORM (and their ${} forms), the way
// glibc on Debian does. $ORIGIN is left as is: in LD_PRELOAD the loader
// refuses it for setuid programs and resolves it against the executable.
func ExpandTokens(s, goarch string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	lib, platform := "lib", goarch
	switch goarch {
	case "amd64":
		lib, platform = "lib/x86_64-linux-gnu", "x86_64"
	case "arm64":
		lib, platform = "lib/aarch64-linux-gnu", "aarch64"
	}
	r := strings.NewReplacer("${LIB}", lib, "$LIB", lib, "${PLATFORM}", platform, "$PLATFORM", platform)
	return r.Replace(s)
}

// IsLoader reports whether the ELF file at path is a dynamic loader: it
// defines the loader's own entry points (_dl_catch_exception, _rtld_global)
// or carries a loader's soname. A copy renamed anything still says so.
func IsLoader(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if names, _ := f.DynString(elf.DT_SONAME); len(names) > 0 {
		n := names[0]
		if strings.HasPrefix(n, "ld-linux") || strings.HasPrefix(n, "ld-musl") || n == "ld.so.1" || strings.HasPrefix(n, "ld64.so") {
			return true
		}
	}
	syms, _ := f.DynamicSymbols()
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && (s.Name == "_rtld_global" || s.Name == "_dl_catch_exception") {
			return true
		}
	}
	return false
}
