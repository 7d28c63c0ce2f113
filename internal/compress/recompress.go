package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Record batch v2 header layout (see KAFKA-REFERENCE.md): the fields this
// file needs, by byte offset.
const (
	offLength     = 8
	offMagic      = 16
	offCRC        = 17
	offAttributes = 21
	headerSize    = 61
	codecMask     = 0x07
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchCodec returns the codec of a record batch v2 (no validation beyond
// the header's length).
func BatchCodec(batch []byte) (Codec, error) {
	if len(batch) < headerSize {
		return None, errors.New("compress: batch shorter than its header")
	}
	return Codec(binary.BigEndian.Uint16(batch[offAttributes:]) & codecMask), nil
}

// Recompress returns batch re-encoded with codec c: the records section is
// decompressed and compressed again as a stream (at most maxRecordsSize
// bytes of records, else ErrTooLarge; memory stays near the output's size
// whatever the input inflates to), then the attributes, length and CRC-32C
// are fixed. Every other header field is kept. If the batch already uses c
// it is returned unchanged. The input must be a whole, CRC-checked batch.
// Snappy output uses the xerial framing Java clients write, which streams.
func Recompress(batch []byte, c Codec, maxRecordsSize int) ([]byte, error) {
	have, err := BatchCodec(batch)
	if err != nil {
		return nil, err
	}
	if have == c {
		return batch, nil
	}
	if batch[offMagic] != 2 {
		return nil, fmt.Errorf("compress: recompress: magic %d", batch[offMagic])
	}
	r, release, err := NewReader(have, batch[headerSize:], maxRecordsSize)
	if err != nil {
		return nil, fmt.Errorf("compress: recompress from %s: %w", have, err)
	}
	defer release()
	limited := &io.LimitedReader{R: r, N: int64(maxRecordsSize) + 1}
	out := bytes.NewBuffer(make([]byte, 0, len(batch)+64))
	out.Write(batch[:headerSize])
	w, err := newWriter(c, out)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, limited); err != nil {
		return nil, fmt.Errorf("compress: recompress %s to %s: %w", have, c, err)
	}
	if limited.N == 0 {
		return nil, ErrTooLarge
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress: recompress to %s: %w", c, err)
	}
	b := out.Bytes()
	attrs := binary.BigEndian.Uint16(b[offAttributes:])&^codecMask | uint16(c)
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b, nil
}

// newWriter returns a streaming compressor writing to w.
func newWriter(c Codec, w io.Writer) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopCloser{w}, nil
	case Gzip:
		return gzip.NewWriter(w), nil
	case LZ4:
		return lz4.NewWriter(w), nil
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	case Snappy:
		return &xerialWriter{w: w}, nil
	}
	return nil, fmt.Errorf("compress: unknown codec %d", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// xerialWriter writes snappy-java framing: the magic, version 1,
// compatible version 1, then each 32 KiB chunk as int32 length + block.
type xerialWriter struct {
	w       io.Writer
	started bool
	buf     []byte
	enc     []byte
}

const xerialChunk = 32 << 10

func (x *xerialWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(len(p), xerialChunk-len(x.buf))
		x.buf = append(x.buf, p[:take]...)
		p = p[take:]
		if len(x.buf) == xerialChunk {
			if err := x.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (x *xerialWriter) flush() error {
	if !x.started {
		x.started = true
		if _, err := x.w.Write(append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)); err != nil {
			return err
		}
	}
	if len(x.buf) == 0 {
		return nil
	}
	x.enc = snappy.Encode(x.enc[:cap(x.enc)], x.buf)
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(x.enc)))
	if _, err := x.w.Write(l[:]); err != nil {
		return err
	}
	_, err := x.w.Write(x.enc)
	x.buf = x.buf[:0]
	return err
}

func (x *xerialWriter) Close() error { return x.flush() }
