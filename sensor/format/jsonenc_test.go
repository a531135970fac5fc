package format

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

// MarshalDoc writes what encoding/json writes, for the Defender row of
// every fixture (hostile bytes included) and for every kind of value the
// rows hold.
func TestMarshalDocIsEncodingJSON(t *testing.T) {
	docs := map[string]map[string]any{}
	d := encoders(t)["defender"].(*Defender)
	for name, o := range fixtures() {
		row, err := d.Row(o)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = row
	}
	docs["values"] = map[string]any{
		"nil": nil, "empty": map[string]any{}, "nilmap": map[string]any(nil), "nilstrings": []string(nil),
		"strings": []string{"a", "<b>&", "\u2028\u2029"}, "any": []any{1, "x", true, nil, 2.5},
		"bool": false, "int": -3, "int32": int32(-4), "int64": int64(1) << 62, "uint16": uint16(7), "uint32": uint32(1) << 31,
		"uint64": uint64(1) << 63, "float": 0.000001234, "bigfloat": 1e21, "time": time.Unix(0, 0).UTC(),
		"controls": "\x00\x01\x08\x0c\x1f\x7f\t\r\n", "html": "<script>&</script>", "bad": "\xff\xc3\x28 \xed\xa0\x80",
		"many": map[string]any{"k01": 1, "k02": 2, "k03": 3, "k04": 4, "k05": 5, "k06": 6, "k07": 7, "k08": 8, "k09": 9, "k10": 10,
			"k11": 11, "k12": 12, "k13": 13, "k14": 14, "k15": 15, "k16": 16, "k17": 17, "k18": 18, "k19": 19, "k20": 20,
			"k21": 21, "k22": 22, "k23": 23, "k24": 24, "k25": 25, "k26": 26, "k27": 27, "k28": 28, "k29": 29, "k30": 30,
			"k31": 31, "k32": 32, "k33": 33, "B": 0, "a": 0, "": 0},
	}
	for name, doc := range docs {
		want, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MarshalDoc(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	if _, err := MarshalDoc(map[string]any{"c": make(chan int)}); err == nil {
		t.Error("a value JSON cannot hold encoded without an error")
	}
}

func FuzzMarshalDocString(f *testing.F) {
	for _, s := range []string{hostile, "", "plain", "\u2028", "\xed\xa0\x80", "<&>", "\x00\x7f"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		doc := map[string]any{k: v, "list": []string{v, k}}
		want, _ := json.Marshal(doc)
		got, err := MarshalDoc(doc)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%q %q:\n got %s\nwant %s", k, v, got, want)
		}
	})
}

// full is an observation with every field set (and every optional number
// zero), so the ECS encoder's hand-written order and omissions are all
// held to encoding/json's.
func full() *observation.Observation {
	o := fixtures()["alert"].Clone()
	o.Container = &observation.Container{ID: "c1", Image: &observation.Image{Name: "img<&>"}, Runtime: "docker"}
	o.File = &observation.File{Device: "8:1", Directory: "/tmp", GID: "0", Group: "root", Hash: &observation.Hash{MD5: "m", SHA1: "s1", SHA256: "s2"},
		Inode: "7", Mode: "0755", Name: "x", Owner: "root", Path: "/tmp/x", Size: observation.Int64(0), TargetPath: "/y", Type: "file", UID: "0"}
	o.Package = &observation.Package{Name: "libc6", Type: "deb"}
	o.Event.Created, o.Event.Start, o.Event.End = "c", "s", "e"
	o.Event.Severity, o.Event.RiskScore = observation.Int64(0), observation.Float64(0.5)
	o.Rule.Category, o.Rule.Reference, o.Rule.Ruleset = "image_load", "https://x", "local"
	o.Threat.Tactic = &observation.Named{ID: []string{"TA0006"}, Name: []string{"Credential Access"}}
	o.Threat.Technique.Name = []string{"", "Hijack"}
	o.Host.OS.Kernel = "6.18"
	o.Observer.Product = "hookwatch"
	o.Process.Group = &observation.ID{ID: "0"}
	o.Process.RealUser, o.Process.RealGroup = &observation.ID{ID: "1000", Name: "alice"}, &observation.ID{ID: "1000"}
	o.Labels = observation.LabelsOf(map[string]string{"z": "1", "a": "\u2028", "": "empty key", "B": "<b>"})
	return o
}

// The ECS encoder writes exactly what encoding/json writes for every
// fixture, a fully populated observation and an empty one.
func TestECSIsEncodingJSON(t *testing.T) {
	obs := fixtures()
	obs["full"] = full()
	obs["empty"] = &observation.Observation{}
	big := full()
	big.Event.RiskScore = observation.Float64(1e22)
	obs["big"] = big
	for name, o := range obs {
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ECS{}.Encode(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func FuzzECSString(f *testing.F) {
	for _, s := range []string{hostile, "", "plain", "\u2028", "\xed\xa0\x80", "<&>", "\x00\x7f"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		o := full()
		o.Message, o.Process.Args = v, []string{v, k}
		o.Labels.Set(k, v)
		want, _ := json.Marshal(o)
		got, err := ECS{}.Encode(o)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%q %q:\n got %s\nwant %s", k, v, got, want)
		}
	})
}

// plain8 must agree with the byte-at-a-time table for every byte in every
// position, beside any other byte (its borrows may not hide one).
func TestPlain8(t *testing.T) {
	for _, fill := range []byte{'a', 0x1f, 0x7f, 0x80, '"', 0xff, ' '} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				s := []byte(strings.Repeat(string([]byte{fill}), 8))
				s[pos] = byte(c)
				want := true
				for _, x := range s {
					want = want && x < utf8.RuneSelf && jsonSafe[x]
				}
				if got := plain8(load8(string(s))); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

// A long command line, as a storm's parent has in every document.
func BenchmarkAppendString(b *testing.B) {
	s := "./storm 3000 /tmp/ssh -- " + strings.Repeat("APP_SETTING_00=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv ", 40)
	buf := make([]byte, 0, 4096)
	for name, write := range map[string]func([]byte, string) []byte{"remembered": appendString, "escaped": appendQuoted} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = write(buf[:0], s)
			}
		})
	}
}

// A long string is written from the memo only when it is the very string
// remembered: another of the same length, or the same bytes elsewhere,
// is written from its own bytes.
func TestLongStringsRemembered(t *testing.T) {
	a := strings.Repeat("a<\"", 300)
	b := strings.Repeat("b\n\\", 300) // the same length
	c := strings.Clone(a)
	for _, s := range []string{a, b, a, c, b, a} {
		got := appendString([]byte("x"), s)
		want, _ := json.Marshal(s)
		if string(got) != "x"+string(want) {
			t.Fatalf("%.20q...: got %.40s, want %.40s", s, got, want)
		}
	}
}
