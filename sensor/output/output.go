// Package output delivers encoded events: to standard output, to a file
// (rotated by size), or to a syslog collector (the local socket, UDP, TCP or
// TLS) through an on-disk spool that loses nothing while the collector is
// slow or down. A Publisher encodes each document for each destination.
package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// LineSink takes one encoded event at a time, as one line.
type LineSink interface {
	Write(line []byte) error
	// Flush writes what Write kept (whole lines, in one write(2)); it
	// returns how many lines could not be written.
	Flush() (int, error)
	Close() error
}

// FileConfig bounds a file destination: rotated at MaxBytes, keeping
// MaxBackups old files (name.1 the newest). MaxBytes 0: no rotation.
type FileConfig struct {
	MaxBytes   int64
	MaxBackups int
}

// Open returns the sink for dest: "stdout" or "-" for standard output,
// anything else a file path, appended to and created 0600 (events name
// users, commands and paths: not for everyone to read).
func Open(dest string, fc FileConfig) (LineSink, error) {
	if dest == "" || dest == "-" || dest == "stdout" {
		return &lineWriter{w: os.Stdout}, nil
	}
	l := &lineWriter{path: dest, fc: fc}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

type lineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	f     *os.File
	path  string
	fc    FileConfig
	size  int64  // of the file, with what buf holds
	buf   []byte // lines not written yet
	lines int    // how many
	// lost counts lines a write kept from the file since the last Flush
	// (lostErr why), reported by Flush.
	lost    int
	lostErr error
}

func (l *lineWriter) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening output %s: %w", l.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening output %s: %w", l.path, err)
	}
	l.f, l.w, l.size = f, f, fi.Size()
	return nil
}

// rotate shifts name.N-1 to name.N ... name to name.1 and starts afresh.
func (l *lineWriter) rotate() error {
	l.f.Close()
	for i := l.fc.MaxBackups; i >= 1; i-- {
		from := l.path
		if i > 1 {
			from = fmt.Sprintf("%s.%d", l.path, i-1)
		}
		os.Rename(from, fmt.Sprintf("%s.%d", l.path, i))
	}
	if l.fc.MaxBackups == 0 {
		os.Remove(l.path)
	}
	return l.open()
}

// Write keeps the line and its newline to be written with the others at
// the next Flush (the agent flushes when its queue is empty) or when
// flushAt bytes are kept: on a storm, a write(2) per event was a twentieth
// of the agent's CPU. Lines are only ever written whole, so a reader of the
// file never sees half an event.
func (l *lineWriter) Write(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil && l.fc.MaxBytes > 0 && l.size > 0 && l.size+int64(len(line))+1 > l.fc.MaxBytes {
		if _, err := l.flush(); err != nil {
			return err
		}
		if err := l.rotate(); err != nil {
			return err
		}
	}
	l.buf = append(append(l.buf, line...), '\n')
	l.lines++
	l.size += int64(len(line)) + 1
	if len(l.buf) >= flushAt {
		// What a write refuses here is counted at the next Flush, where
		// the agent counts every line lost.
		if n, err := l.flush(); err != nil {
			l.lost, l.lostErr = l.lost+n, err
		}
	}
	return nil
}

// flushAt is how many bytes are kept before they are written anyway.
const flushAt = 64 << 10

// Flush implements LineSink.
func (l *lineWriter) Flush() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.flush()
	if l.lost > 0 {
		n, err = n+l.lost, errors.Join(l.lostErr, err)
		l.lost, l.lostErr = 0, nil
	}
	return n, err
}

func (l *lineWriter) flush() (int, error) {
	if len(l.buf) == 0 {
		return 0, nil
	}
	n, err := l.w.Write(l.buf)
	lost := 0
	if err != nil {
		// Whole lines written before the error are in the file.
		lost = l.lines - bytes.Count(l.buf[:n], []byte{'\n'})
		l.size -= int64(len(l.buf) - n)
		err = fmt.Errorf("writing %d events: %w", lost, err)
	}
	l.buf, l.lines = l.buf[:0], 0
	if cap(l.buf) > 4*flushAt {
		l.buf = nil // a burst's buffer is not kept for ever
	}
	return lost, err
}

func (l *lineWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.flush()
	if l.f == nil {
		return err
	}
	return errors.Join(err, l.f.Close())
}
