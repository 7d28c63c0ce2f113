package consume

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// renderer appends one consumed record to a buffer in the chosen --format.
type renderer interface {
	render(dst []byte, r *kgo.Record) ([]byte, error)
}

// newRenderer returns the renderer for a --format value: "text" (the value
// and a newline), "json" (one object per line) or a template.
func newRenderer(format string) (renderer, error) {
	switch format {
	case "text", "":
		return parseTemplate(`%v\n`)
	case "json":
		return jsonRenderer{}, nil
	case "yaml":
		return nil, fmt.Errorf("--format yaml is not available for consume: use text, json or a template")
	}
	if !strings.Contains(format, "%") {
		return nil, fmt.Errorf("--format %q: want text, json or a template with %%-verbs (see --help)", format)
	}
	return parseTemplate(format)
}

// jsonRecord is one record in --format json. Keys are stable: key and value
// are null for a null key/value, headers is [] when there are none. Bytes
// that are not valid UTF-8 are replaced by U+FFFD.
type jsonRecord struct {
	Topic       string       `json:"topic"`
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   int64        `json:"timestamp"`
	LeaderEpoch int32        `json:"leader_epoch"`
	Key         *string      `json:"key"`
	Value       *string      `json:"value"`
	Headers     []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type jsonRenderer struct{}

func (jsonRenderer) render(dst []byte, r *kgo.Record) ([]byte, error) {
	j := jsonRecord{
		Topic:       r.Topic,
		Partition:   r.Partition,
		Offset:      r.Offset,
		Timestamp:   r.Timestamp.UnixMilli(),
		LeaderEpoch: r.LeaderEpoch,
		Key:         nullableString(r.Key),
		Value:       nullableString(r.Value),
		Headers:     make([]jsonHeader, len(r.Headers)),
	}
	for i, h := range r.Headers {
		j.Headers[i] = jsonHeader{Key: h.Key, Value: string(h.Value)}
	}
	b, err := json.Marshal(j)
	if err != nil {
		return dst, fmt.Errorf("encode record %d/%d: %w", r.Partition, r.Offset, err)
	}
	return append(append(dst, b...), '\n'), nil
}

func nullableString(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// templateHelp documents the template verbs; it is part of consume's help.
const templateHelp = `  %t  topic                  %k  key                  %K  key length (bytes)
  %p  partition              %v  value                %V  value length (bytes)
  %o  offset                 %h  headers, k=v,k=v     %e  leader epoch
  %T  timestamp (unix ms)    %%  a literal %
  Escapes: \n newline, \t tab, \r carriage return, \\ backslash.
  A newline ends each record unless the template already ends with \n.`

var escapes = map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\'}

// template is a parsed --format template: literal text and verbs.
type template []part

type part struct {
	literal string
	verb    byte // 0 for a literal
}

// parseTemplate parses the verbs of templateHelp. Unknown verbs and escapes
// are errors, so a typo does not print garbage for every record.
func parseTemplate(s string) (template, error) {
	var (
		t   template
		lit strings.Builder
	)
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, part{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%', '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("--format %q: dangling %c at the end", s, c)
			}
			i++
			n := s[i]
			if c == '\\' {
				esc, ok := escapes[n]
				if !ok {
					return nil, fmt.Errorf("--format %q: unknown escape \\%c", s, n)
				}
				lit.WriteByte(esc)
				continue
			}
			if n == '%' {
				lit.WriteByte('%')
				continue
			}
			if !strings.ContainsRune("tpokvhTeKV", rune(n)) {
				return nil, fmt.Errorf("--format %q: unknown verb %%%c", s, n)
			}
			flush()
			t = append(t, part{verb: n})
		default:
			lit.WriteByte(c)
		}
	}
	if !strings.HasSuffix(lit.String(), "\n") {
		lit.WriteByte('\n')
	}
	flush()
	return t, nil
}

func (t template) render(dst []byte, r *kgo.Record) ([]byte, error) {
	for _, p := range t {
		switch p.verb {
		case 0:
			dst = append(dst, p.literal...)
		case 't':
			dst = append(dst, r.Topic...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(append(append(dst, h.Key...), '='), h.Value...)
			}
		case 'T':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'e':
			dst = strconv.AppendInt(dst, int64(r.LeaderEpoch), 10)
		case 'K':
			dst = strconv.AppendInt(dst, int64(len(r.Key)), 10)
		case 'V':
			dst = strconv.AppendInt(dst, int64(len(r.Value)), 10)
		}
	}
	return dst, nil
}
