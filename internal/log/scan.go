package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// crcChunk is the buffer size used to checksum a batch on disk without
// holding it in memory whole.
const crcChunk = 64 << 10

// batchScanner walks the batches of one segment file between two
// positions, checking what a stored batch must satisfy. It never allocates
// from a length read from disk: every length is checked against the bytes
// that remain first.
type batchScanner struct {
	f      vfs.File
	path   string
	base   int64 // the segment's base offset
	pos    int64 // position of the next batch
	end    int64 // scan stops here
	expect int64 // base offset the next batch must have
	crc    bool  // verify CRCs
	buf    []byte
	hdr    [BatchHeaderSize]byte
}

func newBatchScanner(f vfs.File, path string, base, pos, end, expect int64, checkCRC bool) *batchScanner {
	sc := &batchScanner{f: f, path: path, base: base, pos: pos, end: end, expect: expect, crc: checkCRC}
	if checkCRC {
		sc.buf = make([]byte, crcChunk)
	}
	return sc
}

// errScanEnd reports that the scanner reached its end position cleanly.
var errScanEnd = errors.New("log: end of segment")

// next reads the header of the batch at sc.pos and advances past it. It
// returns errScanEnd at the end, a *CorruptionError when the bytes there
// are not a valid batch (sc.pos is left at the bad batch) and other errors
// for I/O failures.
func (sc *batchScanner) next() (BatchHeader, int64, error) {
	pos := sc.pos
	if pos >= sc.end {
		return BatchHeader{}, pos, errScanEnd
	}
	if sc.end-pos < BatchHeaderSize {
		return BatchHeader{}, pos, corruptf(sc.path, pos, sc.expect, "%d bytes left, a batch header needs %d", sc.end-pos, BatchHeaderSize)
	}
	if _, err := sc.f.ReadAt(sc.hdr[:], pos); err != nil {
		if errors.Is(err, io.EOF) {
			return BatchHeader{}, pos, corruptf(sc.path, pos, sc.expect, "file ends inside a batch header")
		}
		return BatchHeader{}, pos, fmt.Errorf("log: read %s at %d: %w", sc.path, pos, err)
	}
	h, err := ParseBatchHeader(sc.hdr[:])
	if err != nil {
		return h, pos, corruptf(sc.path, pos, sc.expect, "%v", err)
	}
	if h.Size() > sc.end-pos {
		return h, pos, corruptf(sc.path, pos, sc.expect, "batch of %d bytes overruns the segment (%d bytes left)", h.Size(), sc.end-pos)
	}
	if reason := checkStoredHeader(h); reason != "" {
		return h, pos, corruptf(sc.path, pos, sc.expect, "%s", reason)
	}
	if sc.expect >= 0 && h.BaseOffset != sc.expect {
		return h, pos, corruptf(sc.path, pos, sc.expect, "base offset %d, expected %d", h.BaseOffset, sc.expect)
	}
	if h.LastOffset()-sc.base > math.MaxInt32 {
		return h, pos, corruptf(sc.path, pos, sc.expect, "offset %d too far from segment base %d", h.LastOffset(), sc.base)
	}
	if sc.crc {
		if err := sc.checkCRC(h, pos); err != nil {
			return h, pos, err
		}
	}
	sc.pos = pos + h.Size()
	sc.expect = h.LastOffset() + 1
	return h, pos, nil
}

// checkCRC computes the CRC-32C of the batch at pos in chunks.
func (sc *batchScanner) checkCRC(h BatchHeader, pos int64) error {
	crc := crc32.Update(0, castagnoli, sc.hdr[posAttributes:])
	at, stop := pos+BatchHeaderSize, pos+h.Size()
	for at < stop {
		chunk := sc.buf[:min(int64(len(sc.buf)), stop-at)]
		if _, err := sc.f.ReadAt(chunk, at); err != nil {
			if errors.Is(err, io.EOF) {
				return corruptf(sc.path, pos, h.BaseOffset, "file ends inside the batch")
			}
			return fmt.Errorf("log: read %s at %d: %w", sc.path, at, err)
		}
		crc = crc32.Update(crc, castagnoli, chunk)
		at += int64(len(chunk))
	}
	if crc != h.CRC {
		return corruptf(sc.path, pos, h.BaseOffset, "crc %08x, computed %08x", h.CRC, crc)
	}
	return nil
}

// indexBuilder computes a segment's index entries from its batches with the
// same cadence the appender uses (Kafka's LogSegment.append): before a batch
// is added, if more than IndexIntervalBytes were added since the last
// entry, the batch gets an offset index entry (its last offset -> its
// position) and, if the max timestamp so far grew, a time index entry (max
// timestamp -> offset of the batch that carried it).
type indexBuilder struct {
	base                 int64
	interval             int64
	maxIx, maxTix        int64
	ix, tix              []byte
	bytesSince           int64
	maxTs, maxTsOffset   int64
	lastTixTs, lastIxRel int64
}

func newIndexBuilder(base int64, cfg *Config) *indexBuilder {
	return &indexBuilder{
		base: base, interval: int64(cfg.IndexIntervalBytes),
		maxIx: cfg.maxIndexEntries(), maxTix: cfg.maxTimeIndexEntries(),
		maxTs: noTimestamp, maxTsOffset: -1, lastTixTs: math.MinInt64, lastIxRel: -1,
	}
}

// add accounts for the batch h at pos.
func (b *indexBuilder) add(h BatchHeader, pos int64) {
	if h.MaxTimestamp > b.maxTs {
		b.maxTs, b.maxTsOffset = h.MaxTimestamp, h.LastOffset()
	}
	if b.bytesSince > b.interval && pos <= math.MaxInt32 {
		rel := h.LastOffset() - b.base
		if int64(len(b.ix))/offsetIndexEntrySize < b.maxIx && rel > b.lastIxRel {
			b.ix = binary.BigEndian.AppendUint32(b.ix, uint32(rel))
			b.ix = binary.BigEndian.AppendUint32(b.ix, uint32(pos))
			b.lastIxRel = rel
		}
		b.addTime()
		b.bytesSince = 0
	}
	b.bytesSince += h.Size()
}

// addTime appends a time index entry for the max timestamp so far if it grew.
func (b *indexBuilder) addTime() {
	if b.maxTs <= b.lastTixTs || b.maxTs == noTimestamp || int64(len(b.tix))/timeIndexEntrySize >= b.maxTix {
		return
	}
	b.tix = binary.BigEndian.AppendUint64(b.tix, uint64(b.maxTs))
	b.tix = binary.BigEndian.AppendUint32(b.tix, uint32(b.maxTsOffset-b.base))
	b.lastTixTs = b.maxTs
}

// seal adds the final time index entry a closed segment carries, so that
// its last time index entry is its max timestamp.
func (b *indexBuilder) seal() {
	if b.maxTs == noTimestamp || b.maxTs <= b.lastTixTs {
		return
	}
	if int64(len(b.tix))/timeIndexEntrySize >= b.maxTix {
		b.tix = b.tix[:len(b.tix)-timeIndexEntrySize] // replace the last entry
		b.lastTixTs = math.MinInt64
	}
	b.addTime()
}

// ScanBatches calls fn for every batch from the one containing from (or
// the log start, if from is below it) up to the log end offset as of the
// call, in order, after checking each batch's CRC (a mismatch is
// ErrCorruptLog). batch is only valid during fn; an error from fn stops the
// scan and is returned as is. Used to rebuild producer state and by
// compaction.
func (l *Log) ScanBatches(from int64, fn func(h BatchHeader, batch []byte) error) error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	end := l.nextOffset.Load()
	off := max(from, l.startOffset.Load())
	for attempts := 0; off < end; {
		sl := l.segs.Load()
		i := sl.floor(off)
		if i < 0 || !sl.segs[i].acquire() {
			if attempts++; attempts > maxAttempts {
				return fmt.Errorf("log: scan %s from %d: the log kept changing", l.dir, off)
			}
			off = max(off, l.startOffset.Load())
			continue
		}
		s := sl.segs[i]
		next := off
		var ferr error
		err := s.walkBatches(off, func(h BatchHeader, pos int64, load func() ([]byte, error)) (bool, error) {
			if h.LastOffset() >= end {
				return false, nil
			}
			b, err := load()
			if err != nil {
				return false, err
			}
			if got := batchCRC(b); got != h.CRC {
				return false, corruptf(s.logPath, pos, h.BaseOffset, "crc %08x, computed %08x", h.CRC, got)
			}
			if ferr = fn(h, b); ferr != nil {
				return false, ferr
			}
			next = h.LastOffset() + 1
			return true, nil
		})
		sealed, segEnd := s.sealed.Load(), s.next.Load()
		s.release()
		if ferr != nil {
			return ferr
		}
		if err != nil {
			return err
		}
		if next < end && sealed && segEnd > next {
			next = segEnd // the rest of the segment is below off (from inside a batch) or empty
		}
		if next == off {
			break
		}
		off = next
	}
	return nil
}
