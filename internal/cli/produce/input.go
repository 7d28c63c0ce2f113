package produce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// lineReader reads stdin one record per line. Lines end with "\n" (a
// trailing "\r" is dropped too); the last line needs no newline. A line
// longer than the limit is an error, never an unbounded allocation.
type lineReader struct {
	sc   *bufio.Scanner
	line int
	max  int
}

func newLineReader(r io.Reader, maxLine int) *lineReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(64<<10, maxLine+1)), maxLine+1)
	return &lineReader{sc: sc, max: maxLine}
}

// next returns the next line (a slice the reader reuses: copy it) or io.EOF.
func (l *lineReader) next() ([]byte, error) {
	if !l.sc.Scan() {
		if err := l.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, fmt.Errorf("line %d is longer than %d bytes (raise --max-line-bytes)", l.line+1, l.max)
			}
			return nil, fmt.Errorf("read stdin after line %d: %w", l.line, err)
		}
		return nil, io.EOF
	}
	l.line++
	b := l.sc.Bytes()
	if len(b) > l.max {
		return nil, fmt.Errorf("line %d is longer than %d bytes (raise --max-line-bytes)", l.line, l.max)
	}
	return b, nil
}

// recordBuilder turns one input line into a record.
type recordBuilder struct {
	topic     string
	partition int32 // -1: let the partitioner choose
	key       []byte
	hasKey    bool
	keyDelim  []byte
	headers   []kgo.RecordHeader
}

// build copies line into a new record. With a key delimiter the line is split
// at its first occurrence into key and value; a line without the delimiter
// has no key and is all value.
func (b *recordBuilder) build(line []byte) *kgo.Record {
	r := &kgo.Record{Topic: b.topic, Partition: b.partition, Headers: b.headers}
	switch {
	case len(b.keyDelim) > 0:
		if k, v, ok := bytes.Cut(line, b.keyDelim); ok {
			r.Key = bytes.Clone(k)
			r.Value = bytes.Clone(v)
		} else {
			r.Value = bytes.Clone(line)
		}
	case b.hasKey:
		r.Key = b.key
		r.Value = bytes.Clone(line)
	default:
		r.Value = bytes.Clone(line)
	}
	if r.Value == nil {
		r.Value = []byte{} // an empty line is an empty value, not a tombstone
	}
	return r
}

// parseHeaders parses repeated --header k=v flags. Keys may repeat (Kafka
// headers are a list, kept in flag order); the value may be empty ("k="), but
// a header without '=' is rejected so that a typo does not become a key.
func parseHeaders(hs []string) ([]kgo.RecordHeader, error) {
	out := make([]kgo.RecordHeader, 0, len(hs))
	for _, h := range hs {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--header %q: want key=value", h)
		}
		out = append(out, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return out, nil
}
