package daemon

// The detection engines of a snapshot: the host's, and one per container
// root.

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
	"github.com/sirupsen/logrus"
)

// containerEngine makes, for this snapshot, an engine per container root
// (an open directory reached as /proc/self/fd/N): its loader cache, its
// files, its package database.
func (s *Snapshot) containerEngine(names detect.Names) func(root string) *detect.Engine {
	rs, d, maxProcs := s.Facts, s.Detections, s.Config.Agent.MaxProcesses
	// One cache of judgements for every container: the containers of an
	// image share their unchanged files' identities (judge.At).
	shared := judge.New(rs, nil, "/", 4096)
	return func(root string) *detect.Engine {
		cache, _ := ldso.ReadCache(filepath.Join(root, "etc/ld.so.cache"))
		return detect.New(detect.Config{
			Rules: rs, Sigma: d.Sigma, Allow: d.Allow, Names: names, Root: root, MaxProcesses: maxProcs,
			Resolver: ldso.NewResolverAt(root, cache), Judge: shared.At(root, &pkgdb.DB{Root: root, RPMTimeout: 5 * time.Second}),
		})
	}
}

// hostPackages is the host's package database, one for the daemon's life:
// its filter of listed paths (read by a goroutine at the first engine)
// outlives a reload, which changes no package.
var hostPackages = sync.OnceValue(func() *pkgdb.DB {
	db := pkgdb.New()
	go db.Warm()
	return db
})

// engine is the host's detection engine for this snapshot.
func (s *Snapshot) engine(names detect.Names, log logrus.FieldLogger) *detect.Engine {
	rs, d, maxProcs := s.Facts, s.Detections, s.Config.Agent.MaxProcesses
	cache, err := ldso.ReadCache("/etc/ld.so.cache")
	if err != nil {
		log.WithError(err).Warn("no loader cache: expected sets use the default directories only")
	}
	// Under systemd's PrivateTmp hookwatch has a /tmp of its own: judge
	// files as the host sees them, through init's root.
	root := "/"
	if _, err := os.Stat("/proc/1/root/etc"); err == nil {
		root = "/proc/1/root"
	}
	return detect.New(detect.Config{
		Rules: rs, Sigma: d.Sigma, Allow: d.Allow, Names: names, MaxProcesses: maxProcs,
		Resolver: ldso.NewResolver(cache), Judge: judge.New(rs, hostPackages(), root, 4096),
	})
}
