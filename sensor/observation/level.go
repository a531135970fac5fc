package observation

// Level is a rule's level (Sigma's), with the number each output gives it.
type Level uint8

// Levels, lowest first. LevelNone is telemetry's: no rule decided.
const (
	LevelNone Level = iota
	LevelInformational
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"", "informational", "low", "medium", "high", "critical"}

// ParseLevel reads a Sigma level; ok is false for anything else.
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames[1:] {
		if n == s {
			return Level(i + 1), true
		}
	}
	return LevelNone, false
}

// Names lists the levels, lowest first.
func Names() []string { return append([]string(nil), levelNames[1:]...) }

// String is the level's Sigma name ("" for LevelNone).
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return ""
}

// ECS is event.severity: the numbers Elastic's detection rules use.
func (l Level) ECS() int64 {
	return [...]int64{21, 0, 21, 47, 73, 99}[min(l, LevelCritical)]
}

// Syslog is the syslog severity: critical 2 down to informational (and
// telemetry) 6.
func (l Level) Syslog() int {
	return [...]int{6, 6, 5, 4, 3, 2}[min(l, LevelCritical)]
}

// CEF is the CEF header's severity (0 to 10); telemetry is low.
func (l Level) CEF() int {
	return [...]int{3, 1, 3, 5, 8, 10}[min(l, LevelCritical)]
}
