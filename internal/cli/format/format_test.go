package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"
	"gopkg.in/yaml.v3"
)

func TestTableAlignsWithoutTrailingBlanks(t *testing.T) {
	tb := NewTable("PARTITION", "LEADER", "REPLICAS", "RACK")
	tb.Row(int32(0), int32(1), []int32{1, 2, 3}, "")
	tb.Row(int32(10), int32(12), []int32{}, "eu\twest")
	var buf bytes.Buffer
	if err := tb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"PARTITION  LEADER  REPLICAS  RACK\n" +
		"0          1       [1 2 3]\n" +
		"10         12      []        eu west\n"
	if buf.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", buf.String(), want)
	}
	if tb.Len() != 2 {
		t.Fatalf("Len %d", tb.Len())
	}
}

func TestCell(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"s", "s"},
		{7, "7"},
		{int16(-1), "-1"},
		{int64(1) << 40, "1099511627776"},
		{true, "true"},
		{[]int32{3, 1}, "[3 1]"},
		{errors.New("boom"), "boom"},
		{3.5, "3.5"},
	} {
		if got := Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

type sample struct {
	Name     string  `json:"name"`
	Count    int     `json:"count"`
	Replicas []int32 `json:"replicas"`
	Value    *string `json:"value"`
	Empty    []int   `json:"empty"`
	Nested   struct {
		LogStartOffset int64 `json:"log_start_offset"`
	} `json:"nested"`
}

func TestPrintFormats(t *testing.T) {
	v := []sample{{Name: "007", Count: 2, Replicas: []int32{1, 2}, Empty: []int{}}}
	v[0].Nested.LogStartOffset = 5
	text := func(w io.Writer) error { _, err := io.WriteString(w, "TEXT\n"); return err }

	var buf bytes.Buffer
	if err := Print(&buf, Text, v, text); err != nil || buf.String() != "TEXT\n" {
		t.Fatalf("text: %q %v", buf.String(), err)
	}

	buf.Reset()
	if err := Print(&buf, JSON, v, text); err != nil {
		t.Fatal(err)
	}
	var back []sample
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back[0].Name != "007" || back[0].Nested.LogStartOffset != 5 {
		t.Fatalf("json round trip: %v %+v\n%s", err, back, buf.String())
	}
	if !strings.Contains(buf.String(), `"value": null`) {
		t.Fatalf("json drops null keys:\n%s", buf.String())
	}

	buf.Reset()
	if err := Print(&buf, YAML, v, text); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"- name: \"007\"\n" +
		"  count: 2\n" +
		"  replicas: [1, 2]\n" +
		"  value: null\n" +
		"  empty: []\n" +
		"  nested:\n" +
		"    log_start_offset: 5\n"
	if buf.String() != want {
		t.Fatalf("yaml:\n%s\nwant:\n%s", buf.String(), want)
	}
	var y []map[string]any
	if err := yaml.Unmarshal(buf.Bytes(), &y); err != nil || y[0]["name"] != "007" {
		t.Fatalf("yaml keeps strings that look like numbers as strings: %v %v", err, y)
	}
}

func TestFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want Format
		err  bool
	}{
		{"", Text, false},
		{"json", JSON, false},
		{"YAML", YAML, false},
		{"yml", YAML, false},
		{"xml", "", true},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			var f Format
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			AddFlag(fs, &f)
			args := []string{}
			if tc.arg != "" {
				args = []string{"--format", tc.arg}
			}
			err := fs.Parse(args)
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if !tc.err && f != tc.want {
				t.Fatalf("format %q, want %q", f, tc.want)
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		msg    string
		want   string
		wantNm string
	}{
		{nil, "", "OK", "OK"},
		{kerr.TopicAlreadyExists, "", "TOPIC_ALREADY_EXISTS: " + kerr.TopicAlreadyExists.Description, "TOPIC_ALREADY_EXISTS"},
		{kerr.TopicAlreadyExists, "Topic 'a' exists.", "TOPIC_ALREADY_EXISTS: Topic 'a' exists.", "TOPIC_ALREADY_EXISTS"},
		{fmt.Errorf("wrapped: %w", kerr.InvalidPartitions), "", "INVALID_PARTITIONS: " + kerr.InvalidPartitions.Description, "INVALID_PARTITIONS"},
		{errors.New("plain failure"), "", "plain failure", "plain failure"},
	} {
		if got := ErrorStatus(tc.err, tc.msg); got != tc.want {
			t.Errorf("ErrorStatus(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if name, _ := ErrorParts(tc.err, tc.msg); name != tc.wantNm {
			t.Errorf("ErrorParts(%v) name = %q, want %q", tc.err, name, tc.wantNm)
		}
	}
}

func TestSectionsAndKVs(t *testing.T) {
	var buf bytes.Buffer
	Section(&buf, "SUMMARY", true)
	if err := WriteKVs(&buf, KV{"NAME", "orders"}, KV{"PARTITIONS", 3}); err != nil {
		t.Fatal(err)
	}
	Section(&buf, "PARTITIONS", false)
	want := "SUMMARY\n=======\nNAME        orders\nPARTITIONS  3\n\nPARTITIONS\n==========\n"
	if buf.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", buf.String(), want)
	}
}
