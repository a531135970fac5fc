package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/config"
	"github.com/hookwatch/hookwatch/sensor/daemon"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

// explain prints the judgement of one library for a person, or as JSON.
func explain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hookwatch explain", flag.ContinueOnError)
	pid := fs.Uint("pid", 0, "judge the library as mapped into process `PID` (its executable's imports; deleted and memfd files are read through the mapping)")
	asJSON := fs.Bool("json", false, "print JSON")
	confFile := fs.String("config", config.DefaultFile, "configuration `file`: its rules.facts and rules.dir (allowlists) are used (missing: the defaults, unless named here)")
	factsFile := fs.String("facts", "", "facts `file` replacing the built-in one (default: the configuration's rules.facts)")
	fs.StringVar(factsFile, "rules", "", "the old name of -facts")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hookwatch explain [-pid PID] [-json] PATH")
		fs.PrintDefaults()
	}
	// Flags may follow the path, as people type them.
	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(paths) != 1 {
		fs.Usage()
		return usageError{fmt.Errorf("explain takes one path, got %d", len(paths))}
	}
	named := false
	fs.Visit(func(f *flag.Flag) { named = named || f.Name == "config" })
	cfg, _, err := config.Load(*confFile, filepath.Join(filepath.Dir(*confFile), "conf.d"), named)
	if err != nil {
		return usageError{err}
	}
	if *factsFile != "" {
		cfg.Rules.Facts = *factsFile
	}
	snap, err := daemon.Build(cfg)
	if err != nil {
		return usageError{err}
	}
	path := paths[0]
	if !strings.HasPrefix(path, "/memfd:") {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	via := ""
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		// The loader maps what the name leads to: judge that.
		via, path = path, real
	}
	in := judge.Input{Path: path}
	target := ""
	if *pid != 0 {
		in.PID = uint32(*pid)
		proc := procfs.Default()
		if exe, err := proc.Exe(in.PID); err == nil {
			target = exe
		}
		if maps, err := proc.Maps(in.PID); err == nil {
			for _, m := range maps {
				if m.Path == path {
					in.Start, in.End, in.Deleted = m.Start, m.End, m.Deleted
					in.Memfd = strings.HasPrefix(path, "/memfd:")
					break
				}
			}
		}
	}
	j := judge.New(snap.Facts, pkgdb.New(), "/", 1).Judge(context.Background(), in)
	// Which allowlist entry vouches for it, built-in or in the
	// configuration's rules directory (a broken user file there is the
	// rules' problem: `hookwatch rules test` reports it).
	allow := ""
	if e := snap.Detections.Allow.Match(j); e != nil {
		allow = e.Name + " (" + e.File + ")"
	}
	var overrides []string
	if target != "" {
		if imports, err := judge.NewImports().Of(target); err == nil {
			overrides = judge.Overrides(j, imports)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*judge.Judgement
			Mode      string   `json:"Mode"`
			Via       string   `json:"Via,omitempty"`
			Target    string   `json:"Target,omitempty"`
			Overrides []string `json:"Overrides,omitempty"`
			Allowlist string   `json:"Allowlist,omitempty"`
			Score     int      `json:"Score"`
		}{j, fmt.Sprintf("%04o", uint32(j.Mode.Perm())), via, target, overrides, allow, j.Score()})
	}
	w := func(k, v string) {
		if v != "" {
			fmt.Fprintf(stdout, "  %-12s %s\n", k, v)
		}
	}
	fmt.Fprintln(stdout, j.Path)
	w("via", via)
	w("location", j.Location)
	if j.Err != "" {
		w("note", j.Err)
	}
	if j.Exists {
		w("file", fmt.Sprintf("uid %d gid %d mode %04o, %d bytes", j.UID, j.GID, uint32(j.Mode.Perm()), j.Size))
		w("writable by", j.NonRootWritable)
		w("sha256", j.SHA256)
		w("sha1", j.SHA1)
		w("md5", j.MD5)
		switch {
		case j.Package != "" && j.Intact != nil:
			w("package", fmt.Sprintf("%s (%s), bytes %s", j.Package, j.Manager, map[bool]string{true: "match", false: "DIFFER"}[*j.Intact]))
		case j.Package != "":
			w("package", fmt.Sprintf("%s (%s), no digest recorded", j.Package, j.Manager))
		case j.Manager != "":
			w("package", "none ("+j.Manager+")")
		}
		w("diverted", j.DivertedFrom)
		w("interposes", strings.Join(j.Interposed, " "))
		if target != "" {
			o := strings.Join(overrides, " ")
			if o == "" {
				o = "none"
			}
			w("overrides", o+" (of what "+target+" imports)")
		}
	}
	for i, f := range j.Findings {
		k := ""
		if i == 0 {
			k = "findings"
		}
		w(k, fmt.Sprintf("%+d %s: %s", f.Weight, f.Key, f.Text))
	}
	if allow == "" {
		allow = "none"
	}
	w("allowlist", allow)
	w("score", strconv.Itoa(j.Score()))
	return nil
}
