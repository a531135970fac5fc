// Package output writes encoded events, one per line, to where the operator
// asked: standard output or a file. (Syslog sinks come with the Sentinel
// output work.)
package output

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Sink takes one encoded event at a time.
type Sink interface {
	Write(line []byte) error
	Close() error
}

// Open returns the sink for dest: "-" or "stdout" for standard output,
// anything else is a file path, appended to and created 0600 (events name
// users, commands and paths: not for everyone to read).
func Open(dest string) (Sink, error) {
	if dest == "" || dest == "-" || dest == "stdout" {
		return &lineWriter{w: os.Stdout}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening output %s: %w", dest, err)
	}
	return &lineWriter{w: f, c: f}, nil
}

type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	c   io.Closer
	buf []byte
}

// Write writes the line and its newline in one write(2), so concurrent
// readers of the file never see half an event.
func (l *lineWriter) Write(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(append(l.buf[:0], line...), '\n')
	if _, err := l.w.Write(l.buf); err != nil {
		return fmt.Errorf("writing event: %w", err)
	}
	return nil
}

func (l *lineWriter) Close() error {
	if l.c == nil {
		return nil
	}
	return l.c.Close()
}
