package produce

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// summary is what produce prints when stdin is done (without --verbose).
type summary struct {
	Topic      string             `json:"topic"`
	Records    int64              `json:"records"`
	Failed     int64              `json:"failed"`
	Partitions []partitionSummary `json:"partitions"`
}

// partitionSummary counts the records acknowledged by one partition.
// Offsets are -1 when unknown (acks=0).
type partitionSummary struct {
	Partition   int32 `json:"partition"`
	Records     int64 `json:"records"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

// ackLine is one --verbose line in json format.
type ackLine struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp int64  `json:"timestamp"`
}

// results collects acknowledgements. onAck is called by the producer's
// goroutines, so every field below mu is guarded by it.
type results struct {
	topic   string
	noAcks  bool
	verbose bool
	format  format.Format
	out     io.Writer

	mu       sync.Mutex
	w        *bufio.Writer
	inFlight int64
	acked    int64
	failures int64
	firstErr error
	parts    map[int32]*partitionSummary
	writeErr error
}

func newResults(topic string, noAcks, verbose bool, f format.Format, out io.Writer) *results {
	return &results{
		topic:   topic,
		noAcks:  noAcks,
		verbose: verbose,
		format:  f,
		out:     out,
		w:       bufio.NewWriter(out),
		parts:   make(map[int32]*partitionSummary),
	}
}

// sent counts a record handed to the producer.
func (r *results) sent() {
	r.mu.Lock()
	r.inFlight++
	r.mu.Unlock()
}

// failed reports whether any record failed, so reading can stop early.
func (r *results) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures > 0
}

// onAck is the producer's promise for every record.
func (r *results) onAck(rec *kgo.Record, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	if err != nil {
		r.failures++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.acked++
	offset := rec.Offset
	if r.noAcks {
		offset = -1
	}
	p := r.parts[rec.Partition]
	if p == nil {
		p = &partitionSummary{Partition: rec.Partition, FirstOffset: offset, LastOffset: offset}
		r.parts[rec.Partition] = p
	}
	p.Records++
	if offset >= 0 && (p.FirstOffset < 0 || offset < p.FirstOffset) {
		p.FirstOffset = offset
	}
	if offset > p.LastOffset {
		p.LastOffset = offset
	}
	if r.verbose && r.writeErr == nil {
		if r.writeErr = r.writeAck(rec, offset); r.writeErr == nil {
			r.writeErr = r.w.Flush()
		}
	}
}

func (r *results) writeAck(rec *kgo.Record, offset int64) error {
	if r.format == format.JSON {
		b, err := json.Marshal(ackLine{
			Topic:     rec.Topic,
			Partition: rec.Partition,
			Offset:    offset,
			Timestamp: rec.Timestamp.UnixMilli(),
		})
		if err != nil {
			return err
		}
		_, err = r.w.Write(append(b, '\n'))
		return err
	}
	off := "-"
	if offset >= 0 {
		off = fmt.Sprint(offset)
	}
	_, err := fmt.Fprintf(r.w, "Produced to partition %d at offset %s with timestamp %d.\n",
		rec.Partition, off, rec.Timestamp.UnixMilli())
	return err
}

// finish prints the summary (unless verbose) and returns an error if any
// record failed or the output could not be written.
func (r *results) finish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.verbose {
		s := r.summaryLocked()
		r.writeErr = format.Print(r.w, r.format, s, func(w io.Writer) error {
			fmt.Fprintf(w, "Produced %d records to topic %q.\n", s.Records, s.Topic)
			if len(s.Partitions) == 0 {
				return nil
			}
			t := format.NewTable("PARTITION", "RECORDS", "FIRST-OFFSET", "LAST-OFFSET")
			for _, p := range s.Partitions {
				t.Row(p.Partition, p.Records, offsetCell(p.FirstOffset), offsetCell(p.LastOffset))
			}
			return t.Write(w)
		})
	}
	if err := r.w.Flush(); err != nil && r.writeErr == nil {
		r.writeErr = err
	}
	if r.failures > 0 {
		return fmt.Errorf("produce: %d of %d records failed; first error: %w",
			r.failures, r.failures+r.acked+r.inFlight, r.firstErr)
	}
	if r.writeErr != nil {
		return fmt.Errorf("produce: write output: %w", r.writeErr)
	}
	return nil
}

func (r *results) summaryLocked() summary {
	s := summary{Topic: r.topic, Records: r.acked, Failed: r.failures, Partitions: []partitionSummary{}}
	for _, p := range r.parts {
		s.Partitions = append(s.Partitions, *p)
	}
	slices.SortFunc(s.Partitions, func(a, b partitionSummary) int { return int(a.Partition) - int(b.Partition) })
	return s
}

func offsetCell(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmt.Sprint(o)
}
