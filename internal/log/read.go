package log

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// maxAttempts bounds the retries of an operation that raced with
// retention, truncation or a roll.
const maxAttempts = 1000

// ReadResult is a run of whole batches in one segment file, referenced
// without copying. It keeps the segment's file open until Release; using
// it after Release is a bug. The zero value and empty results hold nothing
// (Release is still allowed).
type ReadResult struct {
	h     *readHandle
	file  vfs.File
	pos   int64
	n     int64
	first int64
	last  int64
}

// readHandle makes Release idempotent.
type readHandle struct {
	seg      *segment
	released atomic.Bool
}

var emptyResult = ReadResult{first: -1, last: -1}

// Len returns the number of bytes in the result.
func (r ReadResult) Len() int { return int(r.n) }

// FirstOffset returns the base offset of the first batch, -1 if empty.
// It may be below the offset asked for: reads start at the batch that
// contains it.
func (r ReadResult) FirstOffset() int64 { return r.first }

// LastOffset returns the last offset of the last batch, -1 if empty.
func (r ReadResult) LastOffset() int64 { return r.last }

// Release drops the result's reference to its segment; the segment may
// then be closed or deleted. Calling it more than once is harmless.
func (r ReadResult) Release() {
	if r.h != nil && r.h.released.CompareAndSwap(false, true) {
		r.h.seg.release()
	}
}

// WriteTo writes the batches to w. On Linux, when the segment file is an
// *os.File (vfs.OSFile) and w is a socket or file exposing syscall.Conn
// (*net.TCPConn, *net.UnixConn, *os.File), the bytes go with sendfile(2)
// from the page cache, never through user space; otherwise they are copied
// with pread. A file shorter than expected (truncated under the reader)
// gives io.ErrUnexpectedEOF.
func (r ReadResult) WriteTo(w io.Writer) (int64, error) {
	if r.n == 0 {
		return 0, nil
	}
	if n, handled, err := sendFile(w, r.file, r.pos, r.n); handled {
		if err == nil && n < r.n {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	n, err := io.Copy(w, io.NewSectionReader(r.file, r.pos, r.n))
	if err == nil && n < r.n {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// AppendTo appends the batches to dst (a copying read with pread).
func (r ReadResult) AppendTo(dst []byte) ([]byte, error) {
	if r.n == 0 {
		return dst, nil
	}
	off := len(dst)
	dst = slices.Grow(dst, int(r.n))[:off+int(r.n)]
	m, err := r.file.ReadAt(dst[off:], r.pos)
	if m == int(r.n) {
		return dst, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return dst[:off], fmt.Errorf("log: read %s at %d: %w", r.file.Name(), r.pos, err)
}

// Read returns whole batches starting with the batch that contains offset,
// from that batch's segment only: at most maxBytes of them, but always the
// first one if it is visible, however large (KIP-74). No batch whose last
// offset is >= maxOffset is included (pass the high watermark, or
// LogEndOffset() for everything); if the first batch is such a batch the
// result is empty. offset == LogEndOffset() gives an empty result; offset
// below LogStartOffset() or above LogEndOffset() gives ErrOffsetOutOfRange.
// Damage in the segment gives ErrCorruptLog. The caller must Release the
// result. Reads never take the append lock.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64) (ReadResult, error) {
	for range maxAttempts {
		if err := l.checkOpen(); err != nil {
			return emptyResult, err
		}
		end := l.nextOffset.Load()
		start := l.startOffset.Load()
		if offset < start || offset > end {
			return emptyResult, fmt.Errorf("%w: offset %d, log %s has [%d, %d]", ErrOffsetOutOfRange, offset, l.dir, start, end)
		}
		if offset == end || offset >= maxOffset {
			return emptyResult, nil
		}
		sl := l.segs.Load()
		i := sl.floor(offset)
		if i < 0 {
			continue
		}
		s := sl.segs[i]
		if !s.acquire() {
			continue
		}
		r, err := s.read(offset, int64(maxBytes), min(maxOffset, end))
		if err != nil || r.n == 0 {
			s.release()
			if err != nil && l.changedUnder(s, offset) {
				continue
			}
			return emptyResult, err
		}
		r.h = &readHandle{seg: s}
		return r, nil
	}
	return emptyResult, fmt.Errorf("log: read %s at %d: the log kept changing", l.dir, offset)
}

// changedUnder reports whether a failed read may be explained by a
// concurrent truncation or deletion rather than by damage.
func (l *Log) changedUnder(s *segment, offset int64) bool {
	s.mu.Lock()
	deleted := s.deleted
	s.mu.Unlock()
	return deleted || offset >= l.nextOffset.Load() || offset < l.startOffset.Load()
}

// read collects the batches for Log.Read. The caller holds a reference.
func (s *segment) read(offset, maxBytes, maxOffset int64) (ReadResult, error) {
	limit, err := s.readLimit()
	if err != nil {
		return emptyResult, err
	}
	f, err := s.logFile()
	if err != nil {
		return emptyResult, err
	}
	w := newHeaderWalker(s, f, limit)
	defer w.free()
	pos, h, err := s.locate(w, offset)
	if err != nil {
		return emptyResult, err
	}
	if h.LastOffset() >= maxOffset {
		return emptyResult, nil
	}
	total, last := h.Size(), h.LastOffset()
	for pos+total < limit && total < maxBytes {
		nh, err := w.header(pos+total, last+1)
		if err != nil {
			// Return the good prefix; the next read reports the damage.
			s.l.cfg.Load().Logger.Warn("log: read stopped at damaged batch", "err", err)
			break
		}
		if total+nh.Size() > maxBytes || nh.LastOffset() >= maxOffset {
			break
		}
		total += nh.Size()
		last = nh.LastOffset()
	}
	s.setHint(last+1, pos+total)
	return ReadResult{file: f, pos: pos, n: total, first: h.BaseOffset, last: last}, nil
}
