package agent

// Telemetry: which events that raised no alert are written. One decision
// for every kind of event, so a level means the same for all of them.

// Telemetry levels: which non-alert events are written.
const (
	TelemetryNone   = "none"   // alerts only
	TelemetryLoader = "loader" // what the loader acts on: execs with loader variables or the loader run directly, unexpected libraries, configuration changes, memory accesses
	TelemetryAll    = "all"    // also credential program starts and every library
)

// keepTelemetry says whether an event's own document is written beside its
// alerts (if any). notable: the event carries something the loader acts on,
// or it raised an alert.
func (a *Agent) keepTelemetry(notable bool) bool {
	switch a.cfg.Telemetry {
	case TelemetryAll:
		return true
	case TelemetryLoader:
		return notable
	}
	return false
}
