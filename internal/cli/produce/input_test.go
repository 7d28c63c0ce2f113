package produce

import (
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string, max int) ([]string, error) {
	t.Helper()
	lr := newLineReader(strings.NewReader(in), max)
	var out []string
	for {
		b, err := lr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(b))
	}
}

func TestLineReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want []string
		err  string
	}{
		{"empty", "", 10, nil, ""},
		{"lines", "a\nb\n", 10, []string{"a", "b"}, ""},
		{"no final newline", "a\nb", 10, []string{"a", "b"}, ""},
		{"crlf", "a\r\nb\r\n", 10, []string{"a", "b"}, ""},
		{"empty lines kept", "\n\nx\n", 10, []string{"", "", "x"}, ""},
		{"exactly max", "abcde\n", 5, []string{"abcde"}, ""},
		{"too long", "ok\nabcdef\n", 5, []string{"ok"}, "line 2 is longer than 5 bytes"},
		{"too long last line", "abcdef", 5, nil, "line 1 is longer than 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in, tc.max)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRecordBuilder(t *testing.T) {
	hdrs, err := parseHeaders([]string{"a=1", "a=2", "b=", "c=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		b         recordBuilder
		line      string
		key, val  string
		nilKey    bool
		partition int32
	}{
		{"value only", recordBuilder{partition: -1}, "v", "", "v", true, -1},
		{"empty value is not null", recordBuilder{partition: -1}, "", "", "", true, -1},
		{"fixed key", recordBuilder{hasKey: true, key: []byte("k"), partition: 2}, "v", "k", "v", false, 2},
		{"delimiter", recordBuilder{keyDelim: []byte("::"), partition: -1}, "k::v::w", "k", "v::w", false, -1},
		{"delimiter missing", recordBuilder{keyDelim: []byte("::"), partition: -1}, "v", "", "v", true, -1},
		{"empty key", recordBuilder{keyDelim: []byte(":"), partition: -1}, ":v", "", "v", false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.topic, tc.b.headers = "t", hdrs
			line := []byte(tc.line)
			r := tc.b.build(line)
			if (r.Key == nil) != tc.nilKey || string(r.Key) != tc.key || string(r.Value) != tc.val || r.Value == nil {
				t.Fatalf("key %q (nil %v) value %q", r.Key, r.Key == nil, r.Value)
			}
			if r.Topic != "t" || r.Partition != tc.partition || len(r.Headers) != 4 {
				t.Fatalf("record %+v", r)
			}
			// The record owns its bytes: the reader reuses its buffer.
			for i := range line {
				line[i] = '#'
			}
			if string(r.Value) != tc.val {
				t.Fatalf("value aliases the input line: %q", r.Value)
			}
		})
	}
	if _, err := parseHeaders([]string{"novalue"}); err == nil {
		t.Fatal("header without = accepted")
	}
	if _, err := parseHeaders([]string{"=v"}); err == nil {
		t.Fatal("header without key accepted")
	}
}
