package compat

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests check the suite's own checks, without a broker.

func TestConsumedProblems(t *testing.T) {
	sent := makeRecords("p", 4, true)
	at := func(i int, partition int32, offset int64) record {
		r := sent[i]
		r.Partition, r.Offset = partition, offset
		return r
	}
	changed := at(1, 0, 1)
	changed.Value = strp("other")
	noHeaders := at(1, 0, 1)
	noHeaders.Headers = nil

	tests := []struct {
		name string
		got  []record
		want []string // substrings, one per expected problem
	}{
		{"all arrive in order", []record{at(0, 0, 0), at(2, 1, 0), at(1, 0, 1), at(3, 1, 1)}, nil},
		{"one missing", []record{at(0, 0, 0), at(1, 0, 1), at(2, 0, 2)}, []string{`"key-0003" never arrived`}},
		{"delivered twice", []record{at(0, 0, 0), at(0, 0, 0), at(1, 0, 1), at(2, 0, 2), at(3, 0, 3)}, []string{"delivered twice"}},
		{"stored twice", []record{at(0, 0, 0), at(0, 0, 1), at(1, 0, 2), at(2, 0, 3), at(3, 0, 4)}, []string{"seen twice"}},
		{"value changed", []record{at(0, 0, 0), changed, at(2, 0, 2), at(3, 0, 3)}, []string{`value "other"`}},
		{"headers lost", []record{at(0, 0, 0), noHeaders, at(2, 0, 2), at(3, 0, 3)}, []string{"headers []"}},
		{"send order broken", []record{at(1, 0, 0), at(0, 0, 1), at(2, 0, 2), at(3, 0, 3)}, []string{"send order broken"}},
		{"offsets go back", []record{at(0, 0, 5), at(1, 0, 4), at(2, 1, 0), at(3, 1, 1)}, []string{"delivered after offset 5"}},
		{"unknown key", []record{at(0, 0, 0), at(1, 0, 1), at(2, 0, 2), at(3, 0, 3), {Key: strp("zzz"), Offset: 4}}, []string{`unknown key "zzz"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := consumedProblems(sent, tt.got)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %q does not mention %q", got[i], tt.want[i])
				}
			}
		})
	}
}

// rawBatch encodes a v2 batch of n records with the given attributes and a
// correct length and CRC-32C (the records themselves are left empty: the
// checks read only the header).
func rawBatch(firstOffset int64, n int32, attributes int16) []byte {
	b := kmsg.RecordBatch{FirstOffset: firstOffset, Magic: 2, Attributes: attributes, LastOffsetDelta: n - 1, NumRecords: n}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-batchHeaderLen))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[crcStart:], castagnoli))
	return raw
}

func TestParseBatches(t *testing.T) {
	corrupt := rawBatch(7, 1, 1)
	corrupt[40] ^= 0xff // inside maxTimestamp, covered by the CRC
	oldMagic := rawBatch(0, 1, 0)
	oldMagic[16] = 1

	tests := []struct {
		name     string
		raw      []byte
		want     []storedBatch
		wantNext int64
		wantErr  string
	}{
		{"empty", nil, nil, 0, ""},
		{
			"two batches and a partial one",
			slices.Concat(rawBatch(0, 3, 1), rawBatch(3, 2, 4), rawBatch(5, 1, 0)[:20]),
			[]storedBatch{
				{partition: 2, baseOffset: 0, magic: 2, codec: "gzip", records: 3, crcOK: true},
				{partition: 2, baseOffset: 3, magic: 2, codec: "zstd", records: 2, crcOK: true},
			},
			5, "",
		},
		{"control batch", rawBatch(0, 1, 0x20), []storedBatch{{partition: 2, magic: 2, codec: "none", control: true, records: 1, crcOK: true}}, 1, ""},
		{"bad crc", corrupt, []storedBatch{{partition: 2, baseOffset: 7, magic: 2, codec: "gzip", records: 1, crcOK: false}}, 8, ""},
		{"old magic", oldMagic, nil, 0, "magic 1"},
		{"negative length", binary.BigEndian.AppendUint32(make([]byte, 8), 0xffffffff), nil, 0, "bad length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := parseBatches(2, tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseBatches: %v", err)
			}
			if !slices.Equal(got, tt.want) || next != tt.wantNext {
				t.Errorf("got %+v next %d, want %+v next %d", got, next, tt.want, tt.wantNext)
			}
		})
	}
}

func TestStoredProblems(t *testing.T) {
	gzip := func(offset int64, n int32) storedBatch {
		return storedBatch{baseOffset: offset, magic: 2, codec: "gzip", records: n, crcOK: true}
	}
	tests := []struct {
		name    string
		batches []storedBatch
		want    []string
	}{
		{"as sent", []storedBatch{gzip(0, 5), gzip(5, 5)}, nil},
		{"control batches do not count", []storedBatch{gzip(0, 10), {codec: "none", control: true, records: 1, crcOK: true}}, nil},
		{"uncompressed", []storedBatch{gzip(0, 5), {baseOffset: 5, codec: "none", records: 5, crcOK: true}}, []string{"1 of 2 stored batches are not gzip"}},
		{"records lost", []storedBatch{gzip(0, 9)}, []string{"stores 9 records, 10 were sent"}},
		{"bad crc", []storedBatch{gzip(0, 5), {baseOffset: 5, codec: "gzip", records: 5}}, []string{"CRC-32C"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := storedProblems(tt.batches, 10, "gzip")
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %q does not mention %q", got[i], tt.want[i])
				}
			}
		})
	}
}
