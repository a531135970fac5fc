package config

// Validation of a loaded configuration: every error at once.

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/fold"
)

// Validate checks values; errors name the option.
func (c *Config) Validate() error {
	var errs []error
	switch c.Collector {
	case "auto", "ebpf", "audit":
	default:
		errs = append(errs, fmt.Errorf("collector: %q is not auto, ebpf or audit", c.Collector))
	}
	if c.Audit.Exec != "all" && c.Audit.Exec != "watched" {
		errs = append(errs, fmt.Errorf("audit.exec: %q is not all or watched", c.Audit.Exec))
	}
	if c.Output.FoldWindow < 0 {
		errs = append(errs, fmt.Errorf("output.fold_window: %s is negative", c.Output.FoldWindow))
	}
	if _, err := fold.New(c.Output.FoldWindow, c.Output.FoldKey); err != nil {
		errs = append(errs, fmt.Errorf("output.fold_key: %w", err))
	}
	switch c.Output.Telemetry {
	case "none", "loader", "all":
	default:
		errs = append(errs, fmt.Errorf("output.telemetry: %q is not none, loader or all", c.Output.Telemetry))
	}
	if c.Output.Destination == "" {
		errs = append(errs, errors.New("output.destination is empty (stdout, none, or a file path)"))
	} else if c.Output.Destination != "stdout" && c.Output.Destination != "-" && c.Output.Destination != "none" && !filepath.IsAbs(c.Output.Destination) {
		errs = append(errs, fmt.Errorf("output.destination: %q is not stdout, none or an absolute path", c.Output.Destination))
	}
	if f := c.Output.Format; f != "ecs" && f != "defender" && f != "cef" && f != "console" {
		errs = append(errs, fmt.Errorf("output.format: %q is not ecs, defender, cef or console", f))
	}
	if f := c.Syslog.Format; f != "ecs" && f != "defender" && f != "cef" {
		errs = append(errs, fmt.Errorf("syslog.format: %q is not ecs, defender or cef", f))
	}
	if c.Output.FileMaxBytes < 0 || c.Output.FileMaxBackups < 0 {
		errs = append(errs, errors.New("output.file_max_bytes and output.file_max_backups cannot be negative"))
	}
	if c.Syslog.Address != "" {
		if !strings.HasPrefix(c.Syslog.Address, "unix://") && !strings.HasPrefix(c.Syslog.Address, "udp://") &&
			!strings.HasPrefix(c.Syslog.Address, "tcp://") && !strings.HasPrefix(c.Syslog.Address, "tls://") {
			errs = append(errs, fmt.Errorf("syslog.address: %q is not unix://PATH, udp://, tcp:// or tls://HOST:PORT", c.Syslog.Address))
		}
		if c.Syslog.Header != "rfc5424" && c.Syslog.Header != "rfc3164" {
			errs = append(errs, fmt.Errorf("syslog.header: %q is not rfc5424 or rfc3164", c.Syslog.Header))
		}
		if c.Syslog.MaxMessageBytes < 480 {
			errs = append(errs, fmt.Errorf("syslog.max_message_bytes: %d is below 480 (RFC 5424's floor)", c.Syslog.MaxMessageBytes))
		}
		if !filepath.IsAbs(c.Syslog.SpoolDir) || c.Syslog.SpoolMaxBytes < 1<<20 {
			errs = append(errs, errors.New("syslog.spool_dir must be absolute and syslog.spool_max_bytes at least 1 MiB"))
		}
		if c.Syslog.StructuredData != "" && (!strings.HasPrefix(c.Syslog.StructuredData, "[") || !strings.HasSuffix(c.Syslog.StructuredData, "]")) {
			errs = append(errs, fmt.Errorf("syslog.structured_data: %q is not RFC 5424 SD-ELEMENTs ([id key=\"value\"])", c.Syslog.StructuredData))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json", "auto":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text, json or auto", c.Log.Format))
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			errs = append(errs, fmt.Errorf("metrics.listen: %q is not host:port", c.Metrics.Listen))
		}
	}
	if r := c.Kernel.RingBufferBytes; r < 4096 || r&(r-1) != 0 || r > 1<<30 {
		errs = append(errs, fmt.Errorf("kernel.ring_buffer_bytes: %d is not a power of two between 4096 and 1073741824", r))
	}
	if c.Agent.Queue < 1 || c.Agent.Queue > 1<<20 {
		errs = append(errs, fmt.Errorf("agent.queue: %d is not between 1 and 1048576", c.Agent.Queue))
	}
	if c.Agent.MaxProcesses < 64 || c.Agent.MaxProcesses > 1<<22 {
		errs = append(errs, fmt.Errorf("agent.max_processes: %d is not between 64 and 4194304", c.Agent.MaxProcesses))
	}
	if c.Agent.StatsInterval < 0 {
		errs = append(errs, fmt.Errorf("agent.stats_interval: %s is negative", c.Agent.StatsInterval))
	}
	return errors.Join(errs...)
}
