package ecs

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// maxContent bounds the file content carried in an event.
const maxContent = 4096

// FileChange encodes a change to the loader's configuration as an ECS file
// event; writer is the process that made it (nil when unknown).
func (e *Encoder) FileChange(sh *Shared, c *loaderconf.Change, writer, parent *proctable.Process, byPackageManager bool) *Doc {
	typ := c.Type
	action := "loader-config-" + map[string]string{"creation": "created", "change": "modified", "deletion": "deleted", "rename": "renamed"}[c.Type]
	if c.Type == "rename" {
		typ = "change" // ECS has no rename type: a change of name
	}
	if c.Startup {
		typ, action = "info", "loader-config-present"
	}
	d := e.base(c.Time, observation.KindEvent, observation.DatasetFile, action, []string{"file", "configuration"}, []string{typ})
	f := &observation.File{Path: clean(c.Path), Name: clean(filepath.Base(c.Path)), Directory: clean(filepath.Dir(c.Path)), Type: "file"}
	if c.Exists {
		f.Size = observation.Int64(int64(c.Size))
		f.Inode = strconv.FormatUint(c.Ino, 10)
		f.Hash = &observation.Hash{SHA256: c.SHA256}
	}
	if c.RenamedTo != "" {
		f.TargetPath = clean(c.RenamedTo)
	}
	d.File = f
	if writer != nil {
		e.subject(d, sh, writer, parent)
	}
	labels := map[string]string{"config_kind": c.Kind, "coalesced": strconv.Itoa(c.Coalesced)}
	if c.Writer == nil {
		labels["writer"] = "unknown"
	} else {
		labels["writer_op"] = c.Writer.Op
		labels["writer_ancestors"] = clean(strings.Join(c.Writer.Ancestors, " "))
		if c.Writers > 1 {
			labels["writers"] = strconv.Itoa(c.Writers)
		}
	}
	if byPackageManager {
		labels["package_manager"] = "true"
	}
	if c.RenamedFrom != "" {
		labels["renamed_from"] = clean(c.RenamedFrom)
	}
	if len(c.Content) > 0 {
		content := c.Content
		if len(content) > maxContent {
			content = content[:maxContent]
			labels["content_truncated"] = "true"
		}
		labels["content"] = clean(string(content))
	}
	if c.Truncated {
		labels["content_truncated"] = "true"
	}
	if c.CacheEntries > 0 {
		labels["cache_entries"] = strconv.Itoa(c.CacheEntries)
	}
	if s := itemList(c.Items); s != "" {
		labels["names"] = s
	}
	if s := itemList(c.Added); s != "" {
		labels["added"] = s
	}
	if s := itemList(c.Removed); s != "" {
		labels["removed"] = s
	}
	if len(c.AddedLines)+len(c.RemovedLines) > 0 {
		var diff []string
		for _, l := range c.RemovedLines {
			diff = append(diff, "-"+l)
		}
		for _, l := range c.AddedLines {
			diff = append(diff, "+"+l)
		}
		labels["diff"] = clean(strings.Join(diff, "\n"))
	}
	d.Labels = observation.LabelsOf(labels)
	who := "an unknown process"
	if c.Writer != nil {
		who = fmt.Sprintf("%s (pid %d)", c.Writer.Comm, c.Writer.PID)
	}
	d.Message = clean(fmt.Sprintf("%s %s by %s", c.Path, strings.TrimPrefix(action, "loader-config-"), who))
	return d
}

func itemList(items []ldso.Item) string {
	var out []string
	for _, it := range items {
		out = append(out, clean(string(it.Kind)+":"+it.Path))
	}
	return strings.Join(out, " ")
}
