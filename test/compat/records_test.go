package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// header is one record header as the drivers print it. A nil Value is a
// null header value.
type header struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

// record is one record as the suite sends it to a producer and as every
// consumer driver prints it (one JSON object per line). Partition and Offset
// are set only on consumed records; a nil Key or Value is null.
type record struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Value     *string  `json:"value"`
	Headers   []header `json:"headers"`
}

func strp(s string) *string { return &s }

// bytesp converts a client's []byte to the *string form, keeping nil as null.
func bytesp(b []byte) *string {
	if b == nil {
		return nil
	}
	return strp(string(b))
}

// makeRecords builds n distinct records for producer to send. Values are
// long and repetitive so that every codec really compresses them, and carry
// non-ASCII text to catch re-encoding. Producers that can only attach the same
// headers to every record (kcat's -H) get constantHeaders.
func makeRecords(producer string, n int, perRecordHeaders bool) []record {
	recs := make([]record, n)
	for i := range recs {
		recs[i] = record{
			Key:   strp(fmt.Sprintf("key-%04d", i)),
			Value: strp(fmt.Sprintf("%s record %d ünïcødé ✓ %s", producer, i, strings.Repeat("samsa streams ", 8))),
		}
		if perRecordHeaders {
			recs[i].Headers = []header{
				{Key: "idx", Value: strp(fmt.Sprint(i))},
				{Key: "producer", Value: strp(producer)},
			}
		} else {
			recs[i].Headers = constantHeaders(producer)
		}
	}
	return recs
}

// constantHeaders are the headers of every record of a producer that cannot
// set headers per record.
func constantHeaders(producer string) []header {
	return []header{{Key: "producer", Value: strp(producer)}, {Key: "suite", Value: strp("compat")}}
}

// maxRecordsOutput bounds how many consumed records a driver may print.
const maxRecordsOutput = 100_000

// parseRecords decodes the JSON lines a consumer driver printed.
func parseRecords(out []byte) ([]record, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	var recs []record
	for dec.More() {
		if len(recs) >= maxRecordsOutput {
			return nil, fmt.Errorf("parse records: more than %d records", maxRecordsOutput)
		}
		var r record
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("parse record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// encodeRecords writes recs as JSON lines, the stdin format of the drivers.
func encodeRecords(recs []record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return nil, fmt.Errorf("encode record %d: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

func show(s *string) string {
	if s == nil {
		return "<null>"
	}
	return fmt.Sprintf("%q", *s)
}

func showHeaders(hs []header) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Key + "=" + show(h.Value)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sameHeaders(a, b []header) bool {
	return slices.EqualFunc(a, b, func(x, y header) bool {
		return x.Key == y.Key && show(x.Value) == show(y.Value)
	})
}

// consumedProblems compares what a consumer got with what was sent and
// returns every problem found (nil when none): records missing, duplicated
// or unknown, keys/values/headers changed, and per-partition order broken
// (offsets not increasing, or records of one partition out of send order).
func consumedProblems(sent, got []record) []string {
	var problems []string
	index := make(map[string]int, len(sent))
	for i, r := range sent {
		index[*r.Key] = i
	}
	type pos struct {
		partition int32
		offset    int64
	}
	seenKey := make(map[string]bool, len(got))
	seenPos := make(map[pos]bool, len(got))
	lastOffset := map[int32]int64{}
	lastIndex := map[int32]int{}
	for _, r := range got {
		where := fmt.Sprintf("partition %d offset %d", r.Partition, r.Offset)
		if seenPos[pos{r.Partition, r.Offset}] {
			problems = append(problems, where+": delivered twice")
			continue
		}
		seenPos[pos{r.Partition, r.Offset}] = true
		if r.Key == nil {
			problems = append(problems, where+": null key, every sent record has a key")
			continue
		}
		i, ok := index[*r.Key]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: unknown key %q", where, *r.Key))
			continue
		case seenKey[*r.Key]:
			problems = append(problems, fmt.Sprintf("%s: key %q seen twice", where, *r.Key))
			continue
		}
		seenKey[*r.Key] = true
		want := sent[i]
		if show(r.Value) != show(want.Value) {
			problems = append(problems, fmt.Sprintf("%s key %q: value %s, want %s", where, *r.Key, show(r.Value), show(want.Value)))
		}
		if !sameHeaders(r.Headers, want.Headers) {
			problems = append(problems, fmt.Sprintf("%s key %q: headers %s, want %s", where, *r.Key, showHeaders(r.Headers), showHeaders(want.Headers)))
		}
		if last, ok := lastOffset[r.Partition]; ok && r.Offset <= last {
			problems = append(problems, fmt.Sprintf("%s: delivered after offset %d of the same partition", where, last))
		}
		if last, ok := lastIndex[r.Partition]; ok && i <= last {
			problems = append(problems, fmt.Sprintf("%s: record %d stored after record %d (send order broken)", where, i, last))
		}
		lastOffset[r.Partition], lastIndex[r.Partition] = r.Offset, i
	}
	for _, r := range sent {
		if !seenKey[*r.Key] {
			problems = append(problems, fmt.Sprintf("key %q never arrived", *r.Key))
		}
	}
	return problems
}

// reportProblems fails t with at most a screenful of problems.
func reportProblems(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	const maxShown = 10
	shown := problems[:min(len(problems), maxShown)]
	more := ""
	if len(problems) > maxShown {
		more = fmt.Sprintf("\n  ... and %d more", len(problems)-maxShown)
	}
	t.Errorf("%s: %d problems:\n  %s%s", what, len(problems), strings.Join(shown, "\n  "), more)
}
