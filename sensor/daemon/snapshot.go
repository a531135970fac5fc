package daemon

// The snapshot: what one configuration decides with, built whole.

import (
	"fmt"
	"io/fs"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/config"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/probe"
	"github.com/hookwatch/hookwatch/sensor/rulesdir"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// Snapshot is what one configuration decides with: the configuration, its
// facts file (credential programs, loader variables, ATT&CK names) and its
// detections (Sigma rules and allowlists). It is built whole and never
// changed: a reload builds another, and every holder (engine, encoder,
// kernel names) is made from the same one.
type Snapshot struct {
	Config     config.Config
	Facts      *rules.Set
	Detections *Detections
}

// Build reads what cfg names. `run` (at start and on each reload), `check`,
// `explain` and `rules test` all build this way, so they agree on what a
// configuration means. A bad facts file is a ConfigError; a user's bad rule
// or allowlist file is in Detections.UserErrors and leaves the rest in
// force.
func Build(cfg config.Config) (*Snapshot, error) {
	return build(cfg, ruleset.Load)
}

// BuildEdited is Build for `hookwatch rules test` of an edited copy of the
// shipped rules: a rule there replaces the built-in rule of its id.
func BuildEdited(cfg config.Config) (*Snapshot, error) {
	return build(cfg, ruleset.LoadEdited)
}

func build(cfg config.Config, loadSigma func(fs.FS, []rulesdir.File) (*ruleset.Set, []error, error)) (*Snapshot, error) {
	rs, err := loadFacts(cfg)
	if err != nil {
		return nil, ConfigError{err}
	}
	if len(rs.LoaderVariables) > probe.MaxLoaderVars {
		return nil, ConfigError{fmt.Errorf("rules: %d loader variables, the kernel matches at most %d", len(rs.LoaderVariables), probe.MaxLoaderVars)}
	}
	dets, err := loadDetections(cfg, loadSigma)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Config: cfg, Facts: rs, Detections: dets}, nil
}

// encoder builds documents with this snapshot's ATT&CK names and the facts
// its rules read.
func (s *Snapshot) encoder(host ecs.Host, names ecs.Names) *ecs.Encoder {
	return ecs.New(host, names, s.Facts, s.Detections.Sigma)
}
