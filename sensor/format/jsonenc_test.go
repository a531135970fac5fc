package format

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// MarshalDoc writes what encoding/json writes, for every fixture (hostile
// bytes included) and for every kind of value the encoders put in a
// document.
func TestMarshalDocIsEncodingJSON(t *testing.T) {
	docs := fixtures()
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
