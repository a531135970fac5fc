package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func TestDefaultsWithoutFiles(t *testing.T) {
	dir := t.TempDir()
	cfg, used, err := Load(filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "conf.d"), false)
	if err != nil || len(used) != 0 {
		t.Fatalf("err %v used %v", err, used)
	}
	if cfg.Output.Destination != "stdout" || cfg.Metrics.Listen != "127.0.0.1:9464" || !cfg.Agent.StartupSweep {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestMergeInNameOrder(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "hookwatch.yaml", "output:\n  telemetry: all\nagent:\n  queue: 100\n", 0o644)
	write(t, dir, "conf.d/10-a.yaml", "agent:\n  queue: 200\n", 0o644)
	write(t, dir, "conf.d/20-b.yaml", "log:\n  level: debug\nagent:\n  stats_interval: 5s\n", 0o644)
	write(t, dir, "conf.d/ignored.conf", "not: yaml: at all", 0o644)
	cfg, used, err := Load(main, filepath.Join(dir, "conf.d"), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Agent.Queue != 200 || cfg.Output.Telemetry != "all" || cfg.Log.Level != "debug" || cfg.Agent.StatsInterval != 5*time.Second {
		t.Errorf("merged: %+v", cfg)
	}
	if len(used) != 3 {
		t.Errorf("used %v", used)
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		name    string
		main    string
		mode    os.FileMode
		dropIns map[string]string
		want    string // in the error, with file and line
	}{
		{name: "unknown key", main: "agent:\n  queue: 1\n  bogus: 2\n", want: "hookwatch.yaml:3: field bogus not found"},
		{name: "wrong type", main: "agent:\n  queue: lots\n", want: "hookwatch.yaml:2: cannot unmarshal !!str `lots` into int"},
		{name: "bad duration", main: "agent:\n  stats_interval: soon\n", want: "hookwatch.yaml:2:"},
		{name: "bad fold key", main: "output:\n  fold_key: [rule, colour]\n", want: `output.fold_key: fold key part "colour"`},
		{name: "negative fold window", main: "output:\n  fold_window: -1m\n", want: "output.fold_window: -1m0s is negative"},
		{name: "duplicate key", main: "log:\n  level: info\nlog:\n  level: debug\n", want: "hookwatch.yaml:3: mapping key \"log\" already defined at line 1"},
		{name: "syntax", main: "log: [unclosed\n", want: "hookwatch.yaml:"},
		{name: "bad value", main: "output:\n  telemetry: loud\n", want: "output.telemetry: \"loud\" is not none, loader or all"},
		{name: "relative output", main: "output:\n  destination: events.json\n", want: "not stdout, none or an absolute path"},
		{name: "ring buffer", main: "kernel:\n  ring_buffer_bytes: 1000\n", want: "kernel.ring_buffer_bytes"},
		{name: "unknown collector", main: "collector: dtrace\n", want: `collector: "dtrace" is not auto, ebpf or audit`},
		{name: "empty", main: "# only a comment\n", want: "hookwatch.yaml: empty"},
		{name: "world-writable", main: "log:\n  level: info\n", mode: 0o666, want: "refusing a world-writable file"},
		{name: "conflicting drop-ins", main: "log:\n  level: info\n", dropIns: map[string]string{"a.yaml": "agent:\n  queue: 1\n", "b.yaml": "agent:\n  queue: 2\n"}, want: "b.yaml:2: agent.queue conflicts with"},
		{name: "bad drop-in", main: "log:\n  level: info\n", dropIns: map[string]string{"x.yaml": "metrics:\n  listen: nowhere\n"}, want: "metrics.listen: \"nowhere\" is not host:port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			mode := c.mode
			if mode == 0 {
				mode = 0o644
			}
			main := write(t, dir, "hookwatch.yaml", c.main, mode)
			for n, content := range c.dropIns {
				write(t, dir, "conf.d/"+n, content, 0o644)
			}
			_, _, err := Load(main, filepath.Join(dir, "conf.d"), true)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestMissingNamedFileAndBadDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(filepath.Join(dir, "nope.yaml"), "", true); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing named file: %v", err)
	}
	dd := filepath.Join(dir, "conf.d")
	os.Mkdir(dd, 0o777)
	os.Chmod(dd, 0o777)
	if _, _, err := Load("", dd, false); err == nil || !strings.Contains(err.Error(), "world-writable directory") {
		t.Errorf("world-writable drop-in directory: %v", err)
	}
	// Unreadable: root reads any file, so a directory stands in for it.
	if _, _, err := Load(dir, "", true); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("unreadable: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("log:\n  level: info\n"))
	f.Add([]byte("agent: {queue: -1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, b, 0o644)
		_, _, _ = Load(p, "", true)
	})
}

// rules.file, the facts file's earlier key, is read as rules.facts; both,
// naming different files, is an error rather than a guess.
func TestFactsUnderTheEarlierKey(t *testing.T) {
	dir := t.TempDir()
	old := write(t, dir, "old.yaml", "rules:\n  file: /etc/hookwatch/facts.yaml\n", 0o644)
	cfg, _, err := Load(old, "", true)
	if err != nil || cfg.Rules.Facts != "/etc/hookwatch/facts.yaml" || cfg.Rules.File != "" {
		t.Errorf("rules.file: err %v, facts %q, file %q", err, cfg.Rules.Facts, cfg.Rules.File)
	}
	both := write(t, dir, "both.yaml", "rules:\n  file: /etc/a.yaml\n  facts: /etc/b.yaml\n", 0o644)
	if _, _, err := Load(both, "", true); err == nil || !strings.Contains(err.Error(), "old name of rules.facts") {
		t.Errorf("rules.file and rules.facts differing: %v", err)
	}
}
