package replication

import (
	"errors"
	"fmt"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// errPartialOnly is a Records field holding no whole batch: the leader cut
// its first batch short, which KIP-74 forbids, so fetching again from the
// same offset cannot make progress by itself.
var errPartialOnly = errors.New("replication: fetch response holds only a partial record batch")

// batchSpan is one whole record batch inside a Records field.
type batchSpan struct {
	baseOffset, lastOffset int64
	pos, size              int // bytes [pos, pos+size) of the Records field
}

// wholeBatches walks the record batches v2 in records and returns those that
// are complete, in order. A trailing partial batch (fewer bytes than its
// header, or than its BatchLength says) ends the walk without an error, as
// a size-limited fetch response may carry one. A batch header that cannot
// be right (magic other than 2, BatchLength below an empty batch's,
// negative offsets, offsets that overflow) is an error wrapping
// samsalog.ErrCorruptBatch. Lengths are checked against the bytes present
// before anything is sliced; the result is at most len(records)/61 spans.
// CRCs are not checked here: the replica's append validates every batch.
func wholeBatches(records []byte) ([]batchSpan, error) {
	var spans []batchSpan
	for pos := 0; pos < len(records); {
		rest := records[pos:]
		if len(rest) < samsalog.BatchHeaderSize {
			break // partial header
		}
		h, err := samsalog.ParseBatchHeader(rest)
		if err != nil {
			return spans, fmt.Errorf("replication: batch at byte %d: %w", pos, err)
		}
		size := h.Size()
		if size > int64(len(rest)) {
			break // partial batch
		}
		if h.BaseOffset < 0 || h.LastOffsetDelta < 0 || h.BaseOffset > maxOffset-int64(h.LastOffsetDelta) {
			return spans, fmt.Errorf("replication: batch at byte %d: %w: base offset %d, last offset delta %d",
				pos, samsalog.ErrCorruptBatch, h.BaseOffset, h.LastOffsetDelta)
		}
		spans = append(spans, batchSpan{
			baseOffset: h.BaseOffset,
			lastOffset: h.LastOffset(),
			pos:        pos,
			size:       int(size),
		})
		pos += int(size)
	}
	return spans, nil
}

// maxOffset is the largest offset a record may have (the next offset must
// still fit in an int64).
const maxOffset = 1<<63 - 2
