package checker

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Record is one record as a test saw it. Offset is -1 (or any negative
// value) when unknown; Partition is -1 in Sent when the client's
// partitioner has not chosen it yet.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Value     string
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String is "topic-partition", as Kafka names partition directories.
func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// maxIncomplete bounds the notes kept about an inconsistent history; past
// it only a count grows.
const maxIncomplete = 1000

// History collects the events of a run. The zero value is not usable; call
// NewHistory.
type History struct {
	mu sync.Mutex // guards every field below
	// sends holds one entry per sent value, by topic and value.
	sends map[valueKey]*send
	// nextSeq is each producer's next send index.
	nextSeq map[string]int
	// consumed maps a partition offset to the values consumers read there
	// (value -> first consumer that read it).
	consumed map[offsetKey]map[string]string
	// commits lists each group's successful commits per partition in call order.
	commits map[commitKey][]int64
	// finals holds the final log of each partition given to Final.
	finals map[TopicPartition][]Record
	// incomplete notes inconsistencies in the history itself; dropped
	// counts those past maxIncomplete.
	incomplete []string
	dropped    int
}

type valueKey struct{ topic, value string }

type offsetKey struct {
	tp     TopicPartition
	offset int64
}

type commitKey struct {
	group string
	tp    TopicPartition
}

// send is what the history knows about one sent value.
type send struct {
	producer  string
	topic     string
	value     string
	partition int32 // from Sent; -1 if unknown
	seq       int   // the producer's send index
	acked     bool
	ackTP     TopicPartition
	ackOffset int64 // -1 if the ack carried none
	failed    bool  // failed and never acked
	definite  bool  // the failure was definite
	failErr   string
}

// NewHistory returns an empty history.
func NewHistory() *History {
	return &History{
		sends:    make(map[valueKey]*send),
		nextSeq:  make(map[string]int),
		consumed: make(map[offsetKey]map[string]string),
		commits:  make(map[commitKey][]int64),
		finals:   make(map[TopicPartition][]Record),
	}
}

// noteLocked records an inconsistency of the history.
func (h *History) noteLocked(format string, args ...any) {
	if len(h.incomplete) >= maxIncomplete {
		h.dropped++
		return
	}
	h.incomplete = append(h.incomplete, fmt.Sprintf(format, args...))
}

// Sent records that producer is about to produce r (r.Offset is ignored).
// The order of one producer's Sent calls is its send order.
func (h *History) Sent(producer string, r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := valueKey{r.Topic, r.Value}
	if prev, ok := h.sends[k]; ok {
		h.noteLocked("value %q of topic %s sent twice (by %s and %s); values must be unique per send", r.Value, r.Topic, prev.producer, producer)
		return
	}
	seq := h.nextSeq[producer]
	h.nextSeq[producer] = seq + 1
	p := r.Partition
	if p < 0 {
		p = -1
	}
	h.sends[k] = &send{producer: producer, topic: r.Topic, value: r.Value, partition: p, seq: seq, ackOffset: -1}
}

// Acked records that the broker acknowledged r at r.Partition, r.Offset.
func (h *History) Acked(producer string, r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sendLocked("acked", producer, r)
	if s == nil {
		return
	}
	tp := TopicPartition{r.Topic, r.Partition}
	off := max(r.Offset, -1)
	if s.acked {
		if s.ackTP != tp || s.ackOffset != off {
			h.noteLocked("value %q acked twice: at %s@%d and at %s@%d", r.Value, s.ackTP, s.ackOffset, tp, off)
		}
		return
	}
	if s.failed && s.definite {
		h.noteLocked("value %q acked at %s@%d after a definite failure (%s)", r.Value, tp, off, s.failErr)
	}
	s.acked, s.ackTP, s.ackOffset = true, tp, off
	s.failed, s.definite, s.failErr = false, false, ""
}

// Failed records that producing r failed with err; see the package
// documentation for which errors count as definite. A failure after an ack
// of the same value is ignored (the ack wins).
func (h *History) Failed(producer string, r Record, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sendLocked("failed", producer, r)
	if s == nil || s.acked {
		return
	}
	def := IsDefinite(err)
	if s.failed && s.definite && !def {
		return // keep the definite verdict
	}
	s.failed, s.definite = true, def
	s.failErr = "<nil>"
	if err != nil {
		s.failErr = err.Error()
	}
}

// sendLocked finds the send of r, noting an inconsistency if there is none
// or if another producer sent it.
func (h *History) sendLocked(what, producer string, r Record) *send {
	s := h.sends[valueKey{r.Topic, r.Value}]
	if s == nil {
		h.noteLocked("value %q of topic %s %s by %s but never sent", r.Value, r.Topic, what, producer)
		return nil
	}
	if s.producer != producer {
		h.noteLocked("value %q %s by %s but sent by %s", r.Value, what, producer, s.producer)
	}
	return s
}

// Consumed records that consumer read r.Value at r.Topic, r.Partition,
// r.Offset.
func (h *History) Consumed(consumer string, r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := offsetKey{TopicPartition{r.Topic, r.Partition}, r.Offset}
	vals := h.consumed[k]
	if vals == nil {
		vals = make(map[string]string, 1)
		h.consumed[k] = vals
	}
	if _, ok := vals[r.Value]; !ok {
		vals[r.Value] = consumer
	}
}

// Committed records that group's commit of offset for topic/partition
// succeeded. Commits are judged in the order of these calls per group and
// partition.
func (h *History) Committed(group string, topic string, partition int32, offset int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := commitKey{group, TopicPartition{topic, partition}}
	h.commits[k] = append(h.commits[k], offset)
}

// Final gives the whole log of topic/partition as read after the run, in
// offset order. The records' own Topic and Partition are ignored. A second
// call for the same partition replaces the first. recs is copied.
func (h *History) Final(topic string, partition int32, recs []Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tp := TopicPartition{topic, partition}
	cp := slices.Clone(recs)
	for i := range cp {
		cp[i].Topic, cp[i].Partition = topic, partition
	}
	if cp == nil {
		cp = []Record{}
	}
	h.finals[tp] = cp
}

// definiteError marks an error as a definite failure.
type definiteError struct{ err error }

func (e definiteError) Error() string { return "definite: " + e.err.Error() }
func (e definiteError) Unwrap() error { return e.err }

// Definite wraps err so that Failed treats it as a definite failure: the
// test knows the record was not written.
func Definite(err error) error {
	if err == nil {
		err = errors.New("failed")
	}
	return definiteError{err}
}

// definiteKafkaErrors are the record-level errors that the same record
// would have met on every attempt, so no earlier attempt can have been
// written.
var definiteKafkaErrors = []error{
	kerr.MessageTooLarge,
	kerr.RecordListTooLarge,
	kerr.InvalidRecord,
	kerr.InvalidTopicException,
	kerr.InvalidTimestamp,
	kerr.InvalidRequiredAcks,
	kerr.UnsupportedForMessageFormat,
	kerr.TopicAuthorizationFailed,
	kerr.ClusterAuthorizationFailed,
}

// IsDefinite reports whether err means the record was certainly not
// written: it was wrapped by Definite or wraps one of the record-level
// Kafka errors listed in the package documentation.
func IsDefinite(err error) bool {
	if err == nil {
		return false
	}
	var d definiteError
	if errors.As(err, &d) {
		return true
	}
	for _, k := range definiteKafkaErrors {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
