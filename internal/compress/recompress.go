package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
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
// decompressed (bounded by maxRecordsSize) and compressed again, then the
// attributes, length and CRC-32C are fixed. Every other header field is kept.
// If the batch already uses c it is returned unchanged. The input must be a
// whole, CRC-checked batch.
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
	raw, err := Decompress(have, nil, batch[headerSize:], maxRecordsSize)
	if err != nil {
		return nil, fmt.Errorf("compress: recompress from %s: %w", have, err)
	}
	out := make([]byte, headerSize, headerSize+len(raw)/2+64)
	copy(out, batch[:headerSize])
	out, err = Compress(c, out, raw)
	if err != nil {
		return nil, fmt.Errorf("compress: recompress to %s: %w", c, err)
	}
	attrs := binary.BigEndian.Uint16(out[offAttributes:])&^codecMask | uint16(c)
	binary.BigEndian.PutUint16(out[offAttributes:], attrs)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out, nil
}
