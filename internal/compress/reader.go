package compress

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// NewReader returns a streaming reader of src decompressed, for walking a
// batch's records without holding them all in memory, and a function that
// releases pooled state (call it when done). Snappy, whose blocks do not
// stream, is decoded whole, bounded by maxSize (ErrTooLarge beyond). The
// reader's total output is not bounded: callers count what they read.
func NewReader(c Codec, src []byte, maxSize int) (io.Reader, func(), error) {
	noop := func() {}
	switch c {
	case None:
		return bytes.NewReader(src), noop, nil
	case Gzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, nil, fmt.Errorf("compress: gzip: %w", err)
		}
		return r, noop, nil
	case LZ4:
		return lz4.NewReader(bytes.NewReader(src)), noop, nil
	case Zstd:
		d, _ := zstdStreams.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, nil, fmt.Errorf("compress: zstd: %w", err)
			}
		}
		if err := d.Reset(bytes.NewReader(src)); err != nil {
			zstdStreams.Put(d)
			return nil, nil, fmt.Errorf("compress: zstd: %w", err)
		}
		return d, func() { d.Reset(nil); zstdStreams.Put(d) }, nil
	case Snappy:
		raw, err := Decompress(Snappy, nil, src, maxSize)
		if err != nil {
			return nil, nil, err
		}
		return bytes.NewReader(raw), noop, nil
	}
	return nil, nil, fmt.Errorf("compress: unknown codec %d", c)
}
