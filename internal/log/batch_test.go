package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestParseAndValidateBatch(t *testing.T) {
	good := buildBatch(batchSpec{base: 7, epoch: 3, baseTs: 1000, tsDeltas: []int64{0, 5, 2}, valueSize: 10})
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	recrc := func(b []byte) { binary.BigEndian.PutUint32(b[posCRC:], batchCRC(b)) }
	tests := []struct {
		name      string
		b         []byte
		parseErr  bool
		validErr  bool
		wantMatch string
	}{
		{name: "good", b: good},
		{name: "short", b: good[:60], parseErr: true, validErr: true},
		{name: "magic 1", b: mutate(func(b []byte) { b[posMagic] = 1 }), parseErr: true, validErr: true},
		{name: "length below header", b: mutate(func(b []byte) { binary.BigEndian.PutUint32(b[posBatchLength:], 48) }), parseErr: true, validErr: true},
		{name: "length too big", b: mutate(func(b []byte) { binary.BigEndian.PutUint32(b[posBatchLength:], 1<<20) }), validErr: true},
		{name: "negative length", b: mutate(func(b []byte) { binary.BigEndian.PutUint32(b[posBatchLength:], 0xffffffff) }), parseErr: true, validErr: true},
		{name: "trailing bytes", b: append(bytes.Clone(good), 0), validErr: true},
		{name: "bad crc", b: mutate(func(b []byte) { b[len(b)-1] ^= 1 }), validErr: true},
		{name: "count mismatch", b: mutate(func(b []byte) { binary.BigEndian.PutUint32(b[posNumRecords:], 2); recrc(b) }), validErr: true},
		{name: "zero records", b: mutate(func(b []byte) {
			binary.BigEndian.PutUint32(b[posNumRecords:], 0)
			binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 0xffffffff)
			recrc(b)
		}), validErr: true},
		{name: "unknown codec", b: mutate(func(b []byte) { b[posAttributes+1] |= 7; recrc(b) }), validErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBatchHeader(tc.b)
			if (err != nil) != tc.parseErr {
				t.Fatalf("ParseBatchHeader err = %v, want error %v", err, tc.parseErr)
			}
			if err != nil && !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("ParseBatchHeader err %v is not ErrCorruptBatch", err)
			}
			_, err = ValidateBatch(tc.b)
			if (err != nil) != tc.validErr {
				t.Fatalf("ValidateBatch err = %v, want error %v", err, tc.validErr)
			}
			if err != nil && !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("ValidateBatch err %v is not ErrCorruptBatch", err)
			}
		})
	}
}

func TestBatchHeaderFields(t *testing.T) {
	b := buildBatch(batchSpec{base: 100, epoch: 9, baseTs: 5000, tsDeltas: []int64{3, 1, 7, 2}, compression: CompressionLZ4})
	h, err := ValidateBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"base", h.BaseOffset, int64(100)},
		{"epoch", h.PartitionLeaderEpoch, int32(9)},
		{"last", h.LastOffset(), int64(103)},
		{"records", h.NumRecords, int32(4)},
		{"size", h.Size(), int64(len(b))},
		{"max ts", h.MaxTimestamp, int64(5007)},
		{"base ts", h.BaseTimestamp, int64(5000)},
		{"codec", h.Compression(), CompressionLZ4},
		{"codec name", h.Compression().String(), "lz4"},
		{"ts type", h.TimestampType(), CreateTime},
		{"txn", h.IsTransactional(), false},
		{"control", h.IsControl(), false},
		{"producer", h.ProducerID, int64(-1)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	b[posAttributes+1] |= attrTransactional | attrControl
	h, _ = ParseBatchHeader(b)
	if !h.IsTransactional() || !h.IsControl() {
		t.Errorf("transactional/control bits not seen")
	}
}

func TestStampLogAppendTimeKeepsCRCValid(t *testing.T) {
	b := buildBatch(batchSpec{baseTs: 1000, n: 3})
	stampOffsetEpoch(b, 42, 7)
	stampLogAppendTime(b, 99999)
	h, err := ValidateBatch(b)
	if err != nil {
		t.Fatalf("after stamping: %v", err)
	}
	if h.BaseOffset != 42 || h.PartitionLeaderEpoch != 7 || h.MaxTimestamp != 99999 || h.TimestampType() != LogAppendTime {
		t.Fatalf("stamped header = %+v", h)
	}
}

func TestScanRecordTimestamps(t *testing.T) {
	b := buildBatch(batchSpec{baseTs: 1000, tsDeltas: []int64{5, 0, 9, 9}, valueSize: 3})
	h, _ := ValidateBatch(b)
	var got []int64
	if err := scanRecordTimestamps(b, h, func(d int32, ts int64) bool {
		got = append(got, int64(d), ts)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 1005, 1, 1000, 2, 1009, 3, 1009}
	if !equalInts(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Truncated records are an error, not a panic.
	for cut := BatchHeaderSize; cut < len(b); cut++ {
		_ = scanRecordTimestamps(b[:cut], h, func(int32, int64) bool { return true })
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
