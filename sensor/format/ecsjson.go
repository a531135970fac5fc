package format

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

// ECS encodes the observation as it is: one ECS JSON object.
type ECS struct{}

// Encode implements Encoder. It writes what encoding/json writes for an
// Observation (its tags: names, omitempty), field by field without
// reflection: on a storm of alerts, encoding/json was a tenth of the
// agent's CPU. TestECSIsEncodingJSON holds the two to the same bytes.
func (e ECS) Encode(o *observation.Observation) ([]byte, error) {
	return e.Append(make([]byte, 0, 4096), o)
}

// Append implements Appender: the document after dst.
func (ECS) Append(dst []byte, o *observation.Observation) ([]byte, error) {
	w := object{b: dst}
	w.open()
	w.str("@timestamp", o.Timestamp)
	if c := o.Container; c != nil {
		w.begin("container")
		w.str("id", c.ID)
		if c.Image != nil {
			w.begin("image")
			w.str("name", c.Image.Name)
			w.close()
		}
		w.strOmit("runtime", c.Runtime)
		w.close()
	}
	if d := o.Dll; d != nil {
		w.begin("dll")
		w.hash(d.Hash)
		w.str("path", d.Path)
		w.close()
	}
	w.begin("ecs")
	w.str("version", o.ECS.Version)
	w.close()
	w.event(&o.Event)
	if o.File != nil {
		w.file(o.File)
	}
	w.begin("host")
	w.strOmit("id", o.Host.ID)
	w.strOmit("name", o.Host.Name)
	w.begin("os")
	w.strOmit("kernel", o.Host.OS.Kernel)
	w.str("type", o.Host.OS.Type)
	w.close()
	w.close()
	if len(o.Labels) > 0 {
		w.begin("labels")
		for _, l := range o.Labels { // in key order
			w.comma()
			w.b = appendString(w.b, l.Key)
			w.b = append(w.b, ':')
			w.b = appendString(w.b, l.Value)
		}
		w.close()
	}
	w.strOmit("message", o.Message)
	w.begin("observer")
	w.strOmit("product", o.Observer.Product)
	w.str("vendor", o.Observer.Vendor)
	w.str("version", o.Observer.Version)
	w.close()
	if p := o.Package; p != nil {
		w.begin("package")
		w.str("name", p.Name)
		w.strOmit("type", p.Type)
		w.close()
	}
	if o.Process != nil {
		w.key("process")
		w.process(o.Process)
	}
	if r := o.Rule; r != nil {
		w.begin("rule")
		w.optional("category", r.Category)
		w.str("id", r.ID)
		w.str("name", r.Name)
		w.optional("reference", r.Reference, "ruleset", r.Ruleset)
		w.close()
	}
	if t := o.Threat; t != nil {
		w.begin("threat")
		w.str("framework", t.Framework)
		w.named("tactic", t.Tactic)
		if te := t.Technique; te != nil {
			w.begin("technique")
			w.strs("id", te.ID)
			w.strsOmit("name", te.Name)
			w.named("subtechnique", te.Subtechnique)
			w.close()
		}
		w.close()
	}
	w.close()
	return w.b, nil
}

func (w *object) event(e *observation.Event) {
	w.begin("event")
	w.str("action", e.Action)
	w.strs("category", e.Category)
	w.optional("created", e.Created)
	w.str("dataset", e.Dataset)
	w.optional("end", e.End)
	w.strings("id", e.ID, "kind", e.Kind)
	w.optional("reason", e.Reason)
	if e.RiskScore != nil {
		w.key("risk_score")
		w.float(*e.RiskScore)
	}
	w.int("severity", e.Severity)
	w.strOmit("start", e.Start)
	w.strs("type", e.Type)
	w.close()
}

func (w *object) file(f *observation.File) {
	w.begin("file")
	w.optional("device", f.Device, "directory", f.Directory, "gid", f.GID, "group", f.Group)
	w.hash(f.Hash)
	w.optional("inode", f.Inode, "mode", f.Mode, "name", f.Name, "owner", f.Owner, "path", f.Path)
	w.int("size", f.Size)
	w.optional("target_path", f.TargetPath, "type", f.Type, "uid", f.UID)
	w.close()
}

func (w *object) process(p *observation.Process) {
	w.open()
	w.strsOmit("args", p.Args)
	w.optional("command_line", p.CommandLine, "entity_id", p.EntityID)
	w.strsOmit("env_vars", p.EnvVars)
	w.strOmit("executable", p.Executable)
	w.id("group", p.Group)
	w.strOmit("name", p.Name)
	if p.Parent != nil {
		w.key("parent")
		w.process(p.Parent)
	}
	if p.PID != 0 {
		w.key("pid")
		w.b = strconv.AppendInt(w.b, p.PID, 10)
	}
	w.id("real_group", p.RealGroup)
	w.id("real_user", p.RealUser)
	w.strOmit("start", p.Start)
	w.id("user", p.User)
	w.close()
}

// object writes one JSON object at a time; keys are the constants above
// (plain ASCII: written as they are).
type object struct {
	b     []byte
	first bool // nothing written yet in the innermost object
}

func (w *object) open()  { w.b, w.first = append(w.b, '{'), true }
func (w *object) close() { w.b, w.first = append(w.b, '}'), false }

func (w *object) comma() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
}

// begin starts an object under key k.
func (w *object) begin(k string) {
	w.key(k)
	w.open()
}

func (w *object) key(k string) {
	w.comma()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *object) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *object) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

// strings writes each key and value pair, in order.
func (w *object) strings(kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		w.str(kv[i], kv[i+1])
	}
}

// optional writes each key and value pair whose value is not empty
// (omitempty), in order.
func (w *object) optional(kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		w.strOmit(kv[i], kv[i+1])
	}
}

// int writes a number when it is set (omitempty on a pointer).
func (w *object) int(k string, v *int64) {
	if v != nil {
		w.key(k)
		w.b = strconv.AppendInt(w.b, *v, 10)
	}
}

// strs is a list as encoding/json writes one: nil is null.
func (w *object) strs(k string, v []string) {
	w.key(k)
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i, s := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendString(w.b, s)
	}
	w.b = append(w.b, ']')
}

func (w *object) strsOmit(k string, v []string) {
	if len(v) > 0 {
		w.strs(k, v)
	}
}

func (w *object) id(k string, v *observation.ID) {
	if v != nil {
		w.begin(k)
		w.str("id", v.ID)
		w.optional("name", v.Name)
		w.close()
	}
}

func (w *object) hash(h *observation.Hash) {
	if h == nil {
		return
	}
	w.begin("hash")
	w.optional("md5", h.MD5, "sha1", h.SHA1, "sha256", h.SHA256)
	w.close()
}

func (w *object) named(k string, n *observation.Named) {
	if n == nil {
		return
	}
	w.begin(k)
	w.strs("id", n.ID)
	w.strsOmit("name", n.Name)
	w.close()
}

// float writes a number as encoding/json does: whole numbers of a
// reasonable size as integers, anything else through encoding/json.
func (w *object) float(f float64) {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		w.b = strconv.AppendFloat(w.b, f, 'f', -1, 64)
		return
	}
	b, _ := json.Marshal(f) // NaN and infinities: an error, and nothing written
	if b == nil {
		b = []byte("null")
	}
	w.b = append(w.b, b...)
}
