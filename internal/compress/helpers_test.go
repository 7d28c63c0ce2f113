package compress

import (
	"encoding/binary"
	"hash/crc32"
)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// fixBatch sets the length and CRC of an encoded batch.
func fixBatch(b []byte) {
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], crc32c(b[offAttributes:]))
}
