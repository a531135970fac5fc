package output

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Record priorities: telemetry is dropped before alerts when the spool is
// full.
const (
	PrioTelemetry byte = 0
	PrioAlert     byte = 1
)

const (
	segmentBytes = 1 << 20
	recHeader    = 5 // u32 length + priority byte
	maxRecord    = 16 << 20
)

// Pos is a place in the spool: a segment and an offset in it.
type Pos struct {
	Seg uint64
	Off int64
}

func (p Pos) less(q Pos) bool { return p.Seg < q.Seg || (p.Seg == q.Seg && p.Off < q.Off) }

// Spool is a bounded on-disk queue of messages for one network sink. Every
// message is appended before it is sent, and the position up to which
// delivery is confirmed is kept in a cursor file, so a collector that is
// down, or a hookwatch restart, loses nothing. When the spool is over its
// bound it drops the oldest telemetry first, then the oldest alerts, and
// counts both.
type Spool struct {
	dir string
	max int64

	mu     sync.Mutex
	segs   []uint64 // segment numbers, oldest first
	sizes  map[uint64]int64
	w      *os.File
	read   Pos // next record to send
	safe   Pos // everything before is delivered
	notify chan struct{}

	DroppedTelemetry atomic.Uint64
	DroppedAlerts    atomic.Uint64
}

// OpenSpool opens (or creates) the spool in dir, bounded to max bytes. A
// spool left by an earlier run is replayed from its cursor.
func OpenSpool(dir string, max int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	s := &Spool{dir: dir, max: max, sizes: map[uint64]int64{}, notify: make(chan struct{}, 1)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading spool: %w", err)
	}
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".seg"); ok {
			if seq, err := strconv.ParseUint(n, 10, 64); err == nil {
				fi, err := e.Info()
				if err == nil {
					s.segs = append(s.segs, seq)
					s.sizes[seq] = fi.Size()
				}
			}
		}
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i] < s.segs[j] })
	if b, err := os.ReadFile(filepath.Join(dir, "cursor")); err == nil {
		fmt.Sscanf(string(b), "%d %d", &s.safe.Seg, &s.safe.Off)
	}
	if len(s.segs) == 0 {
		s.segs = []uint64{s.safe.Seg + 1}
		s.sizes[s.safe.Seg+1] = 0
	}
	if s.safe.less(Pos{Seg: s.segs[0]}) {
		s.safe = Pos{Seg: s.segs[0]}
	}
	s.read = s.safe
	last := s.segs[len(s.segs)-1]
	if s.w, err = os.OpenFile(s.segPath(last), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("opening spool segment: %w", err)
	}
	return s, nil
}

func (s *Spool) segPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", seq))
}

// Bytes is the spool's size on disk.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.sizes {
		n += v
	}
	return n
}

// Pending reports whether records wait to be sent.
func (s *Spool) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.segs[len(s.segs)-1]
	return s.read.less(Pos{Seg: last, Off: s.sizes[last]})
}

// Append adds a message.
func (s *Spool) Append(prio byte, msg []byte) error {
	if len(msg) > maxRecord {
		return fmt.Errorf("message of %d bytes is larger than the spool takes", len(msg))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.segs[len(s.segs)-1]
	if s.sizes[last] >= segmentBytes {
		if err := s.rotate(); err != nil {
			return err
		}
		last = s.segs[len(s.segs)-1]
	}
	var h [recHeader]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(msg)))
	h[4] = prio
	if _, err := s.w.Write(append(h[:], msg...)); err != nil {
		return fmt.Errorf("writing spool: %w", err)
	}
	s.sizes[last] += int64(recHeader + len(msg))
	s.enforce()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) rotate() error {
	s.w.Close()
	seq := s.segs[len(s.segs)-1] + 1
	f, err := os.OpenFile(s.segPath(seq), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("new spool segment: %w", err)
	}
	s.w = f
	s.segs = append(s.segs, seq)
	s.sizes[seq] = 0
	return nil
}

// enforce keeps the spool within its bound: delivered segments go first,
// then telemetry, oldest segment first, from every segment; only then whole
// segments of alerts, oldest first.
func (s *Spool) enforce() {
	for s.total() > s.max && len(s.segs) > 1 && s.segs[0] < s.safe.Seg {
		s.dropSegment(s.segs[0], false)
	}
	for i := 0; s.total() > s.max && i < len(s.segs); i++ {
		s.dropTelemetry(s.segs[i])
	}
	for s.total() > s.max && len(s.segs) > 1 {
		s.dropSegment(s.segs[0], true)
	}
}

func (s *Spool) total() int64 {
	var n int64
	for _, v := range s.sizes {
		n += v
	}
	return n
}

func (s *Spool) dropSegment(seq uint64, count bool) {
	if count {
		alerts, tele := s.countIn(seq)
		s.DroppedAlerts.Add(alerts)
		s.DroppedTelemetry.Add(tele)
	}
	os.Remove(s.segPath(seq))
	delete(s.sizes, seq)
	s.segs = s.segs[1:]
	next := Pos{Seg: s.segs[0]}
	if s.safe.less(next) {
		s.safe = next
	}
	if s.read.less(next) {
		s.read = next
	}
}

func (s *Spool) countIn(seq uint64) (alerts, tele uint64) {
	s.scan(seq, func(prio byte, _ []byte) {
		if prio == PrioAlert {
			alerts++
		} else {
			tele++
		}
	})
	return
}

// dropTelemetry rewrites a segment without its telemetry; false when it had
// none. Cursors inside it move to its start (a resend, not a loss).
func (s *Spool) dropTelemetry(seq uint64) bool {
	var keep [][]byte
	var dropped uint64
	s.scan(seq, func(prio byte, msg []byte) {
		if prio == PrioAlert {
			keep = append(keep, append([]byte(nil), msg...))
		} else {
			dropped++
		}
	})
	if dropped == 0 {
		return false
	}
	tmp := s.segPath(seq) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return false
	}
	var size int64
	for _, m := range keep {
		var h [recHeader]byte
		binary.LittleEndian.PutUint32(h[:4], uint32(len(m)))
		h[4] = PrioAlert
		f.Write(append(h[:], m...))
		size += int64(recHeader + len(m))
	}
	f.Close()
	isLast := seq == s.segs[len(s.segs)-1]
	if isLast {
		s.w.Close()
	}
	os.Rename(tmp, s.segPath(seq))
	if isLast {
		s.w, _ = os.OpenFile(s.segPath(seq), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	s.sizes[seq] = size
	s.DroppedTelemetry.Add(dropped)
	for _, p := range []*Pos{&s.safe, &s.read} {
		if p.Seg == seq {
			p.Off = 0
		}
	}
	return true
}

func (s *Spool) scan(seq uint64, f func(prio byte, msg []byte)) {
	fh, err := os.Open(s.segPath(seq))
	if err != nil {
		return
	}
	defer fh.Close()
	r := bufio.NewReader(fh)
	for {
		var h [recHeader]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(h[:4])
		if n > maxRecord {
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		f(h[4], msg)
	}
}

// Next returns the next record to send and the position after it, or
// ok false when there is none.
func (s *Spool) Next() (msg []byte, after Pos, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		size, known := s.sizes[s.read.Seg]
		if !known {
			return nil, s.read, false, nil
		}
		if s.read.Off < size {
			break
		}
		// At the end of a segment: move on if a later one exists.
		i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i] > s.read.Seg })
		if i == len(s.segs) {
			return nil, s.read, false, nil
		}
		s.read = Pos{Seg: s.segs[i]}
	}
	f, err := os.Open(s.segPath(s.read.Seg))
	if err != nil {
		return nil, s.read, false, fmt.Errorf("reading spool: %w", err)
	}
	defer f.Close()
	var h [recHeader]byte
	if _, err := f.ReadAt(h[:], s.read.Off); err != nil {
		return nil, s.read, false, fmt.Errorf("reading spool record: %w", err)
	}
	n := binary.LittleEndian.Uint32(h[:4])
	if n > maxRecord {
		return nil, s.read, false, errors.New("corrupt spool record")
	}
	msg = make([]byte, n)
	if _, err := f.ReadAt(msg, s.read.Off+recHeader); err != nil {
		return nil, s.read, false, fmt.Errorf("reading spool record: %w", err)
	}
	s.read.Off += int64(recHeader) + int64(n)
	return msg, s.read, true, nil
}

// Rewind makes the next record the first one not confirmed delivered.
func (s *Spool) Rewind() {
	s.mu.Lock()
	s.read = s.safe
	s.mu.Unlock()
}

// Commit confirms delivery of everything before p: it is kept in the
// cursor file, and segments wholly before it are deleted.
func (s *Spool) Commit(p Pos) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.safe.less(p) {
		return nil
	}
	s.safe = p
	tmp := filepath.Join(s.dir, "cursor.tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", p.Seg, p.Off)), 0o600); err != nil {
		return fmt.Errorf("writing spool cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "cursor")); err != nil {
		return fmt.Errorf("writing spool cursor: %w", err)
	}
	for len(s.segs) > 1 && s.segs[0] < p.Seg {
		os.Remove(s.segPath(s.segs[0]))
		delete(s.sizes, s.segs[0])
		s.segs = s.segs[1:]
	}
	return nil
}

// Wait returns a channel that receives after an append.
func (s *Spool) Wait() <-chan struct{} { return s.notify }

// Close closes the spool's files.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Close()
}
