package output

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func drain(t *testing.T, s *Spool) (msgs []string, last Pos) {
	t.Helper()
	for {
		m, after, ok, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return msgs, last
		}
		msgs = append(msgs, string(m))
		last = after
	}
}

func TestSpoolOrderCommitAndRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s.Append(PrioTelemetry, []byte(fmt.Sprintf("m%d", i)))
	}
	got, _ := drain(t, s)
	if strings.Join(got, ",") != "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9" {
		t.Fatalf("order: %v", got)
	}
	// Confirm the first five; the rest were sent but not confirmed.
	s.Rewind()
	var fifth Pos
	for i := 0; i < 5; i++ {
		_, fifth, _, _ = s.Next()
	}
	s.Commit(fifth)
	s.Close()

	// A restart resends exactly what was not confirmed.
	s2, err := OpenSpool(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = drain(t, s2)
	if strings.Join(got, ",") != "m5,m6,m7,m8,m9" {
		t.Errorf("after restart: %v", got)
	}
	s2.Append(PrioAlert, []byte("m10"))
	if got, _ := drain(t, s2); strings.Join(got, ",") != "m10" {
		t.Errorf("append after restart: %v", got)
	}
}

func TestSpoolSegmentsAreDeletedOnceDelivered(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenSpool(dir, 64<<20)
	payload := strings.Repeat("x", 100<<10)
	for i := 0; i < 30; i++ { // ~3 MiB: several segments
		s.Append(PrioTelemetry, []byte(payload))
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	_, last := drain(t, s)
	s.Commit(last)
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 1 {
		t.Errorf("%d segments left after everything was delivered", len(segs))
	}
}

// A full spool drops the oldest telemetry first, then the oldest alerts,
// and counts what it dropped.
func TestSpoolBoundDropsTelemetryFirst(t *testing.T) {
	s, _ := OpenSpool(t.TempDir(), 3<<20)
	payload := strings.Repeat("y", 64<<10)
	for i := 0; i < 80; i++ { // 5 MiB offered into 3 MiB
		prio := PrioTelemetry
		if i%4 == 0 {
			prio = PrioAlert
		}
		s.Append(prio, []byte(fmt.Sprintf("%03d %s", i, payload)))
	}
	if s.Bytes() > 3<<20+segmentBytes {
		t.Errorf("spool holds %d bytes, bound 3 MiB", s.Bytes())
	}
	if s.DroppedTelemetry.Load() == 0 {
		t.Fatal("nothing dropped")
	}
	got, _ := drain(t, s)
	alerts := 0
	for _, m := range got {
		var i int
		fmt.Sscanf(m, "%d", &i)
		if i%4 == 0 {
			alerts++
		}
	}
	if alerts+int(s.DroppedAlerts.Load()) != 20 {
		t.Errorf("%d alerts kept + %d dropped, want 20", alerts, s.DroppedAlerts.Load())
	}
	if s.DroppedAlerts.Load() > 0 && s.DroppedTelemetry.Load() < 40 {
		t.Errorf("alerts dropped (%d) while telemetry remained", s.DroppedAlerts.Load())
	}
}

func TestFileRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.json")
	w, err := Open(p, FileConfig{MaxBytes: 1000, MaxBackups: 2})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("z", 99)) // 100 bytes with the newline
	for i := 0; i < 35; i++ {
		if err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, name := range []string{p, p + ".1", p + ".2"} {
		fi, err := os.Stat(name)
		if err != nil || fi.Size() > 1000 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(p + ".3"); err == nil {
		t.Error("more backups than asked for")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// Lines are kept until Flush (the agent's queue is empty) or 64 KiB, then
// written whole; lines a full disk refused are counted, not forgotten.
func TestLinesFlushedWholeAndLossCounted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.json")
	w, err := Open(p, FileConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := w.Write([]byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(p); len(b) != 0 {
		t.Errorf("written before Flush: %q", b)
	}
	if lost, err := w.Flush(); lost != 0 || err != nil {
		t.Fatalf("flush: %d lost, %v", lost, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "{\"n\":1}\n{\"n\":1}\n{\"n\":1}\n" {
		t.Errorf("after Flush: %q", b)
	}
	big := []byte(strings.Repeat("y", 1000))
	for i := 0; i < 70; i++ {
		w.Write(big)
	}
	if fi, _ := os.Stat(p); fi.Size() < 64<<10 {
		t.Errorf("%d bytes written after 70 KB kept, want them out at 64 KiB", fi.Size())
	}
	w.Close()

	full, err := Open("/dev/full", FileConfig{})
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	full.Write([]byte("a"))
	full.Write([]byte("b"))
	if lost, err := full.Flush(); lost != 2 || err == nil {
		t.Errorf("a full disk: %d lost, %v; want 2 and an error", lost, err)
	}
	// Lines refused when 64 KiB were kept are counted at the next Flush.
	for i := 0; i < 70; i++ {
		if err := full.Write(big); err != nil {
			t.Fatal(err)
		}
	}
	if lost, err := full.Flush(); lost != 70 || err == nil {
		t.Errorf("a full disk, past 64 KiB: %d lost, %v; want 70 and an error", lost, err)
	}
}
