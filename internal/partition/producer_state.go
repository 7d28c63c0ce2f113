package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// maxRetainedBatches is how many batches per producer are remembered for
// duplicate detection: Kafka keeps 5, hence max.in.flight <= 5.
const maxRetainedBatches = 5

// batchMeta is what producer state remembers of one appended batch.
type batchMeta struct {
	FirstSeq    int32
	LastSeq     int32
	FirstOffset int64
	LastOffset  int64
	Timestamp   int64
}

// producerEntry is the state of one producer id on this partition.
type producerEntry struct {
	Epoch   int16
	Batches []batchMeta // oldest first, at most maxRetainedBatches
	// LastTimestamp is the max timestamp of the producer's latest batch, for
	// expiry (producer.id.expiration.ms).
	LastTimestamp int64
}

// ProducerState tracks idempotent producers on one partition: their epoch
// and the sequence ranges of their last batches. It is a plain value owned by
// the partition under its append lock.
type ProducerState struct {
	producers map[int64]*producerEntry
}

// NewProducerState returns empty producer state.
func NewProducerState() *ProducerState {
	return &ProducerState{producers: map[int64]*producerEntry{}}
}

// Len is the number of producers tracked.
func (s *ProducerState) Len() int { return len(s.producers) }

// CheckResult is the verdict on an incoming idempotent batch.
type CheckResult struct {
	// Duplicate is set when the batch was appended before; FirstOffset and
	// LastOffset then give where it went.
	Duplicate   bool
	FirstOffset int64
	LastOffset  int64
}

// Check decides whether a batch from producerID/epoch with sequence range
// [firstSeq, firstSeq+count-1] may be appended. It returns a Kafka error for
// a stale epoch (INVALID_PRODUCER_EPOCH) or a sequence gap
// (OUT_OF_ORDER_SEQUENCE_NUMBER), and marks exact re-sends as duplicates.
// It does not change the state: call Update after the append.
func (s *ProducerState) Check(producerID int64, epoch int16, firstSeq int32, count int32) (CheckResult, error) {
	e := s.producers[producerID]
	if e == nil {
		// No state (new producer, or its state expired or was removed by
		// retention): any sequence is accepted, as Kafka does.
		return CheckResult{}, nil
	}
	if epoch < e.Epoch {
		return CheckResult{}, kerr.InvalidProducerEpoch
	}
	lastSeq := addSeq(firstSeq, count-1)
	if epoch == e.Epoch {
		for _, b := range e.Batches {
			if b.FirstSeq == firstSeq && b.LastSeq == lastSeq {
				return CheckResult{Duplicate: true, FirstOffset: b.FirstOffset, LastOffset: b.LastOffset}, nil
			}
		}
		if len(e.Batches) == 0 {
			return CheckResult{}, nil
		}
		if want := addSeq(e.Batches[len(e.Batches)-1].LastSeq, 1); firstSeq != want {
			return CheckResult{}, kerr.OutOfOrderSequenceNumber
		}
		return CheckResult{}, nil
	}
	// A newer epoch must start its sequences at 0.
	if firstSeq != 0 {
		return CheckResult{}, kerr.OutOfOrderSequenceNumber
	}
	return CheckResult{}, nil
}

// Update records an appended batch.
func (s *ProducerState) Update(producerID int64, epoch int16, firstSeq int32, count int32, firstOffset, lastOffset, maxTimestamp int64) {
	e := s.producers[producerID]
	if e == nil {
		e = &producerEntry{Batches: make([]batchMeta, 0, maxRetainedBatches)}
		s.producers[producerID] = e
	}
	if epoch != e.Epoch {
		e.Epoch = epoch
		e.Batches = e.Batches[:0]
	}
	if len(e.Batches) == maxRetainedBatches {
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:maxRetainedBatches-1]
	}
	e.Batches = append(e.Batches, batchMeta{
		FirstSeq: firstSeq, LastSeq: addSeq(firstSeq, count-1),
		FirstOffset: firstOffset, LastOffset: lastOffset, Timestamp: maxTimestamp,
	})
	e.LastTimestamp = maxTimestamp
}

// TruncateFrom forgets batches at or above offset (after a log truncation);
// producers left with no batches are dropped.
func (s *ProducerState) TruncateFrom(offset int64) {
	for id, e := range s.producers {
		kept := e.Batches[:0]
		for _, b := range e.Batches {
			if b.LastOffset < offset {
				kept = append(kept, b)
			}
		}
		e.Batches = kept
		if len(kept) == 0 {
			delete(s.producers, id)
			continue
		}
		e.LastTimestamp = kept[len(kept)-1].Timestamp
	}
}

// ExpireBefore drops producers whose last batch is older than ts (ms).
func (s *ProducerState) ExpireBefore(ts int64) {
	for id, e := range s.producers {
		if e.LastTimestamp < ts {
			delete(s.producers, id)
		}
	}
}

// addSeq adds to a sequence number with Kafka's wrap-around at MaxInt32.
func addSeq(seq int32, n int32) int32 {
	v := int64(seq) + int64(n)
	if v > 1<<31-1 {
		v -= 1 << 31
	}
	return int32(v)
}

// Snapshot file format (<dir>/producer-state.snapshot), big endian:
//
//	magic "SPS1" | int64 logEndOffset | int32 producerCount |
//	  per producer: int64 id | int16 epoch | int64 lastTimestamp | int8 n |
//	    n * (int32 firstSeq | int32 lastSeq | int64 firstOffset | int64 lastOffset | int64 ts)
//	| uint32 CRC-32C of everything before it
const snapshotMagic = "SPS1"

// ErrBadSnapshot means a producer-state snapshot failed validation.
var ErrBadSnapshot = errors.New("partition: bad producer state snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalSnapshot encodes the state as of logEndOffset.
func (s *ProducerState) MarshalSnapshot(logEndOffset int64) []byte {
	ids := make([]int64, 0, len(s.producers))
	for id := range s.producers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := append([]byte(snapshotMagic), make([]byte, 12)...)
	binary.BigEndian.PutUint64(b[4:], uint64(logEndOffset))
	binary.BigEndian.PutUint32(b[12:], uint32(len(ids)))
	for _, id := range ids {
		e := s.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.Epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastTimestamp))
		b = append(b, byte(len(e.Batches)))
		for _, m := range e.Batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.FirstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.LastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.FirstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.LastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.Timestamp))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// UnmarshalSnapshot decodes a snapshot, returning the state and the log end
// offset it was taken at. Every count is checked against the bytes present.
func UnmarshalSnapshot(b []byte) (*ProducerState, int64, error) {
	if len(b) < 20 || string(b[:4]) != snapshotMagic {
		return nil, 0, fmt.Errorf("%w: header", ErrBadSnapshot)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, 0, fmt.Errorf("%w: checksum", ErrBadSnapshot)
	}
	leo := int64(binary.BigEndian.Uint64(body[4:]))
	n := binary.BigEndian.Uint32(body[12:])
	rest := body[16:]
	const producerHeader, batchSize = 19, 32
	if uint64(n)*producerHeader > uint64(len(rest)) {
		return nil, 0, fmt.Errorf("%w: %d producers in %d bytes", ErrBadSnapshot, n, len(rest))
	}
	s := NewProducerState()
	for i := uint32(0); i < n; i++ {
		if len(rest) < producerHeader {
			return nil, 0, fmt.Errorf("%w: truncated producer", ErrBadSnapshot)
		}
		id := int64(binary.BigEndian.Uint64(rest))
		e := &producerEntry{
			Epoch:         int16(binary.BigEndian.Uint16(rest[8:])),
			LastTimestamp: int64(binary.BigEndian.Uint64(rest[10:])),
		}
		nb := int(rest[18])
		rest = rest[producerHeader:]
		if nb > maxRetainedBatches || nb*batchSize > len(rest) {
			return nil, 0, fmt.Errorf("%w: %d batches", ErrBadSnapshot, nb)
		}
		e.Batches = make([]batchMeta, nb, maxRetainedBatches)
		for j := range e.Batches {
			e.Batches[j] = batchMeta{
				FirstSeq:    int32(binary.BigEndian.Uint32(rest)),
				LastSeq:     int32(binary.BigEndian.Uint32(rest[4:])),
				FirstOffset: int64(binary.BigEndian.Uint64(rest[8:])),
				LastOffset:  int64(binary.BigEndian.Uint64(rest[16:])),
				Timestamp:   int64(binary.BigEndian.Uint64(rest[24:])),
			}
			rest = rest[batchSize:]
		}
		s.producers[id] = e
	}
	if len(rest) != 0 {
		return nil, 0, fmt.Errorf("%w: %d trailing bytes", ErrBadSnapshot, len(rest))
	}
	return s, leo, nil
}
