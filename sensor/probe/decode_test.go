package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/hookwatch/hookwatch/sensor/event"
)

// execRecord builds a ring buffer record as the kernel writes it.
func execRecord(tb testing.TB) []byte {
	path := []byte("/usr/bin/ssh")
	argv := []byte("ssh\x00-p\x002222\x00host\x00")
	env := []byte("LD_PRELOAD=/tmp/hook.so\x00")
	h := hookwatchExecHdr{Kind: uint8(hookwatchKindKIND_EXEC), Watch: 1, PathLen: uint16(len(path)), ArgvLen: uint16(len(argv)), EnvLen: uint16(len(env)), Nenv: 1}
	h.Proc.Pid, h.Proc.Tgid, h.Proc.Ppid = 42, 42, 1
	copy(h.Proc.Comm[:], "ssh")
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, &h); err != nil {
		tb.Fatal(err)
	}
	b.Write(path)
	b.Write(argv)
	b.Write(env)
	return b.Bytes()
}

type discard struct{ n int }

func (d *discard) Exec(*event.Exec)           { d.n++ }
func (d *discard) ImageLoad(*event.ImageLoad) { d.n++ }
func (d *discard) FileOp(*event.FileOp)       { d.n++ }
func (d *discard) Access(*event.Access)       { d.n++ }

func TestDecodeExecRecord(t *testing.T) {
	dec := newDecoder()
	var got *event.Exec
	h := &captureExec{f: func(e *event.Exec) { got = e }}
	if err := dec.dispatch(execRecord(t), h); err != nil {
		t.Fatal(err)
	}
	if got.Executable != "/usr/bin/ssh" || len(got.Args) != 4 || got.Args[3] != "host" || got.LoaderEnv[0] != "LD_PRELOAD=/tmp/hook.so" || got.Comm != "ssh" {
		t.Errorf("decoded %+v", got)
	}
	for _, bad := range [][]byte{nil, {99}, execRecord(t)[:20], append(execRecord(t)[:execHdrSize], 'x')} {
		if err := dec.dispatch(bad, h); err == nil {
			t.Errorf("record %q decoded", bad)
		}
	}
}

type captureExec struct {
	discard
	f func(*event.Exec)
}

func (c *captureExec) Exec(e *event.Exec) { c.f(e) }

func FuzzDecode(f *testing.F) {
	f.Add(execRecord(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := newDecoder()
		_ = dec.dispatch(b, &discard{})
	})
}

func BenchmarkDecodeExec(b *testing.B) {
	rec := execRecord(b)
	dec := newDecoder()
	h := &discard{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := dec.dispatch(rec, h); err != nil {
			b.Fatal(err)
		}
	}
}

// header must read what encoding/binary reads (little-endian, every field
// in order, padding counted): random bytes through both, for each record
// kind, and the sizes the same.
func TestHeadersAreTheirBytes(t *testing.T) {
	agree[hookwatchExecHdr](t, "exec", execHdrSize)
	agree[hookwatchMapHdr](t, "map", mapHdrSize)
	agree[hookwatchFileHdr](t, "file", fileHdrSize)
	agree[hookwatchAccessHdr](t, "access", accessHdrSize)
}

func agree[T any](t *testing.T, name string, size int) {
	t.Helper()
	var zero T
	if n := binary.Size(zero); n != size {
		t.Errorf("%s header: %d bytes in memory, %d encoded", name, size, n)
	}
	raw := make([]byte, size+8)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(rnd.Uint32())
	}
	var a, b T
	if err := header(raw, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := binary.Decode(raw, binary.LittleEndian, &b); err != nil {
		t.Fatal(err)
	}
	// Compared as encoding/binary writes them, which zeroes the blank
	// padding fields it skipped reading.
	var ea, eb bytes.Buffer
	if err := errors.Join(binary.Write(&ea, binary.LittleEndian, a), binary.Write(&eb, binary.LittleEndian, b)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea.Bytes(), eb.Bytes()) {
		t.Errorf("%s: header read %+v, encoding/binary %+v", name, a, b)
	}
	if err := header(raw[:size-1], &a); err == nil {
		t.Errorf("%s: a short record decoded", name)
	}
}
