// Package compress implements the record-batch codecs Kafka uses: gzip,
// snappy (raw blocks, and the xerial framing Java clients send), lz4 (the LZ4
// frame format) and zstd.
//
// Decompression is always bounded by a caller-given maximum output size, so a
// small hostile batch cannot expand into unbounded memory (a "zip bomb").
package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is the compression codec in bits 0-2 of a record batch's attributes.
type Codec int8

// The codecs Kafka defines.
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

// ErrTooLarge is returned when decompressed data exceeds the allowed size.
var ErrTooLarge = errors.New("compress: decompressed data exceeds the limit")

// String returns Kafka's name of the codec.
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Parse maps a name (none, uncompressed, gzip, snappy, lz4, zstd) to a codec.
func Parse(name string) (Codec, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "none", "uncompressed", "":
		return None, nil
	case "gzip":
		return Gzip, nil
	case "snappy":
		return Snappy, nil
	case "lz4":
		return LZ4, nil
	case "zstd":
		return Zstd, nil
	}
	return None, fmt.Errorf("compress: unknown codec %q", name)
}

// zstdStreams pools streaming zstd decoders (creating one is expensive).
var zstdStreams sync.Pool

var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("compress: zstd encoder: %v", err)) // only with invalid options
	}
	return e
})

// xerialMagic starts snappy data framed the way snappy-java writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// Decompress appends the decompressed form of src to dst. It fails with
// ErrTooLarge if the output would exceed maxSize bytes.
func Decompress(c Codec, dst, src []byte, maxSize int) ([]byte, error) {
	switch c {
	case None:
		if len(src) > maxSize {
			return nil, ErrTooLarge
		}
		return append(dst, src...), nil
	case Gzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		return readBounded(dst, r, maxSize, "gzip")
	case LZ4:
		return readBounded(dst, lz4.NewReader(bytes.NewReader(src)), maxSize, "lz4")
	case Zstd:
		// Streamed through a pooled decoder so that the limit holds while
		// decoding: DecodeAll would first inflate a bomb in full.
		d, _ := zstdStreams.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, fmt.Errorf("compress: zstd: %w", err)
			}
		}
		if err := d.Reset(bytes.NewReader(src)); err != nil {
			return nil, fmt.Errorf("compress: zstd: %w", err)
		}
		out, err := readBounded(dst, d, maxSize, "zstd")
		d.Reset(nil)
		zstdStreams.Put(d)
		return out, err
	case Snappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return decodeXerial(dst, src, maxSize)
		}
		return decodeSnappyBlock(dst, src, maxSize)
	}
	return nil, fmt.Errorf("compress: unknown codec %d", c)
}

func decodeSnappyBlock(dst, src []byte, maxSize int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("compress: snappy: %w", err)
	}
	if n > maxSize {
		return nil, ErrTooLarge
	}
	start := len(dst)
	dst = grow(dst, n)
	out, err := snappy.Decode(dst[start:start+n], src)
	if err != nil {
		return nil, fmt.Errorf("compress: snappy: %w", err)
	}
	return dst[:start+len(out)], nil
}

// decodeXerial reads snappy-java framing: the 8-byte magic, two int32
// version fields, then chunks of int32 length + raw snappy block.
func decodeXerial(dst, src []byte, maxSize int) ([]byte, error) {
	if len(src) < 16 {
		return nil, errors.New("compress: snappy: truncated xerial header")
	}
	src = src[16:]
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errors.New("compress: snappy: truncated xerial chunk length")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, errors.New("compress: snappy: xerial chunk longer than the data")
		}
		var err error
		dst, err = decodeSnappyBlock(dst, src[:n], maxSize-(len(dst)-start))
		if err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return dst, nil
}

// readBounded appends r's bytes to dst, failing with ErrTooLarge past
// maxSize. The buffer grows by doubling but never beyond maxSize+1 bytes of
// output, so a bomb costs at most the limit.
func readBounded(dst []byte, r io.Reader, maxSize int, name string) ([]byte, error) {
	start := len(dst)
	limit := start + maxSize + 1
	for {
		if len(dst) == cap(dst) {
			if cap(dst) >= limit {
				return nil, ErrTooLarge
			}
			next := make([]byte, len(dst), min(max(2*cap(dst), 4096), limit))
			copy(next, dst)
			dst = next
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > maxSize {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, fmt.Errorf("compress: %s: %w", name, err)
		}
	}
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n)
	copy(nb, b)
	return nb
}

// Compress appends the compressed form of src to dst.
func Compress(c Codec, dst, src []byte) ([]byte, error) {
	switch c {
	case None:
		return append(dst, src...), nil
	case Gzip:
		buf := bytes.NewBuffer(dst)
		w := gzip.NewWriter(buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		return buf.Bytes(), nil
	case LZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("compress: lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress: lz4: %w", err)
		}
		return buf.Bytes(), nil
	case Zstd:
		return zstdEncoder().EncodeAll(src, dst), nil
	case Snappy:
		n := snappy.MaxEncodedLen(len(src))
		if n < 0 {
			return nil, errors.New("compress: snappy: input too large")
		}
		start := len(dst)
		dst = grow(dst, n)
		out := snappy.Encode(dst[start:start+n], src)
		return dst[:start+len(out)], nil
	}
	return nil, fmt.Errorf("compress: unknown codec %d", c)
}
