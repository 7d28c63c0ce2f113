package consume

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func sampleRecord() *kgo.Record {
	return &kgo.Record{
		Topic:       "orders",
		Partition:   3,
		Offset:      42,
		Timestamp:   time.UnixMilli(1_700_000_000_123),
		LeaderEpoch: 7,
		Key:         []byte("k1"),
		Value:       []byte("hello"),
		Headers:     []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}},
	}
}

func TestTemplates(t *testing.T) {
	r := sampleRecord()
	for _, tc := range []struct {
		format string
		want   string
		err    string
	}{
		{"text", "hello\n", ""},
		{"%t %p %o %k %v %h %T %e %K %V", "orders 3 42 k1 hello a=1,b= 1700000000123 7 2 5\n", ""},
		{`%k\t%v\n`, "k1\thello\n", ""},
		{`100%% %v\\`, "100% hello\\\n", ""},
		{"%v\r\n", "hello\r\n", ""},
		{"%q", "", "unknown verb"},
		{`%v\x`, "", "unknown escape"},
		{"%v %", "", "dangling"},
		{"plain", "", "want text, json or a template"},
		{"yaml", "", "not available"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			rend, err := newRenderer(tc.format)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := rend.render(nil, r)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestJSONRecord(t *testing.T) {
	rend, err := newRenderer("json")
	if err != nil {
		t.Fatal(err)
	}
	r := sampleRecord()
	b, err := rend.render([]byte("prefix:"), r)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimPrefix(string(b), "prefix:")
	want := `{"topic":"orders","partition":3,"offset":42,"timestamp":1700000000123,"leader_epoch":7,"key":"k1","value":"hello","headers":[{"key":"a","value":"1"},{"key":"b","value":""}]}` + "\n"
	if line != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}

	// Null key and value stay null; no headers is an empty list; invalid
	// UTF-8 still yields valid JSON.
	r.Key, r.Value, r.Headers = nil, []byte{0xff, 'x'}, nil
	b, err = rend.render(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid json %q: %v", b, err)
	}
	if m["key"] != nil || m["value"] != "\ufffdx" {
		t.Fatalf("decoded %v", m)
	}
	if h, ok := m["headers"].([]any); !ok || len(h) != 0 {
		t.Fatalf("headers %v", m["headers"])
	}
}
