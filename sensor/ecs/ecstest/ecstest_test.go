package ecstest

import (
	"strings"
	"testing"
)

func TestValidateCatchesViolations(t *testing.T) {
	ok := `{"@timestamp":"2026-01-02T03:04:05.000Z","ecs":{"version":"9.4.0"},"event":{"kind":"alert","category":["process"],"type":["start"],"severity":73,"risk_score":90},"process":{"pid":12,"args":["a","b"]},"labels":{"x":"y"}}`
	if err := ValidateJSON([]byte(ok)); err != nil {
		t.Fatalf("valid document rejected: %v", err)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"@timestamp":"2026-01-02T03:04:05Z","ecs":{"version":"9.4.0"},"event":{"kind":"alert"},"process":{"madeup":1}}`, "process.madeup is not an ECS 9.4.0 field"},
		{`{"@timestamp":"2026-01-02T03:04:05Z","ecs":{"version":"9.4.0"},"event":{"kind":"alert"},"process":{"pid":"12"}}`, "want an integer"},
		{`{"@timestamp":"yesterday","ecs":{"version":"9.4.0"},"event":{"kind":"alert"}}`, "not an RFC 3339 date"},
		{`{"@timestamp":"2026-01-02T03:04:05Z","ecs":{"version":"9.4.0"},"event":{"kind":"nope"}}`, `event.kind "nope" is not allowed`},
		{`{"@timestamp":"2026-01-02T03:04:05Z","ecs":{"version":"9.4.0"},"event":{"kind":"event","category":["library"],"type":["deletion"]}}`, "not expected for categories"},
		{`{"@timestamp":"2026-01-02T03:04:05Z","ecs":{"version":"9.4.0"},"event":{"kind":"event"},"process":{"name":["a","b"]}}`, "not an array field"},
		{`{"ecs":{"version":"9.4.0"},"event":{"kind":"event"}}`, "@timestamp is missing"},
		{`{"@timestamp":"2026-01-02T03:04:05Z","ecs":{"version":"9.4.0"},"event":{"kind":"event"},"labels":{"n":1}}`, "labels hold strings"},
	} {
		err := ValidateJSON([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateJSON(%s) = %v, want %q", c.doc, err, c.want)
		}
	}
}
