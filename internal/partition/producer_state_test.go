package partition

import (
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestProducerStateCheck(t *testing.T) {
	type batch struct {
		epoch    int16
		firstSeq int32
		count    int32
	}
	tests := []struct {
		name    string
		applied []batch
		next    batch
		wantErr error
		wantDup bool
	}{
		{"new producer any sequence", nil, batch{0, 42, 3}, nil, false},
		{"in order", []batch{{0, 0, 5}}, batch{0, 5, 1}, nil, false},
		{"gap", []batch{{0, 0, 5}}, batch{0, 6, 1}, kerr.OutOfOrderSequenceNumber, false},
		{"exact resend of last", []batch{{0, 0, 5}, {0, 5, 5}}, batch{0, 5, 5}, nil, true},
		{"resend of an older retained batch", []batch{{0, 0, 1}, {0, 1, 1}, {0, 2, 1}}, batch{0, 1, 1}, nil, true},
		{"batch older than retained is out of order", []batch{{0, 0, 1}, {0, 1, 1}, {0, 2, 1}, {0, 3, 1}, {0, 4, 1}, {0, 5, 1}}, batch{0, 0, 1}, kerr.OutOfOrderSequenceNumber, false},
		{"stale epoch", []batch{{3, 0, 1}}, batch{2, 1, 1}, kerr.InvalidProducerEpoch, false},
		{"new epoch starts at zero", []batch{{3, 0, 10}}, batch{4, 0, 1}, nil, false},
		{"new epoch must start at zero", []batch{{3, 0, 10}}, batch{4, 10, 1}, kerr.OutOfOrderSequenceNumber, false},
		{"sequence wraps", []batch{{0, math.MaxInt32 - 1, 2}}, batch{0, 0, 1}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewProducerState()
			off := int64(0)
			for _, b := range tc.applied {
				if _, err := s.Check(1, b.epoch, b.firstSeq, b.count); err != nil {
					t.Fatalf("setup batch %+v: %v", b, err)
				}
				s.Update(1, b.epoch, b.firstSeq, b.count, off, off+int64(b.count)-1, 0)
				off += int64(b.count)
			}
			res, err := s.Check(1, tc.next.epoch, tc.next.firstSeq, tc.next.count)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if res.Duplicate != tc.wantDup {
				t.Fatalf("duplicate = %v, want %v", res.Duplicate, tc.wantDup)
			}
		})
	}
}

func TestProducerStateDuplicateOffsets(t *testing.T) {
	s := NewProducerState()
	s.Update(9, 0, 0, 3, 100, 102, 5)
	res, err := s.Check(9, 0, 0, 3)
	if err != nil || !res.Duplicate || res.FirstOffset != 100 || res.LastOffset != 102 {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestProducerStateTruncateAndExpire(t *testing.T) {
	s := NewProducerState()
	s.Update(1, 0, 0, 1, 0, 0, 10)
	s.Update(1, 0, 1, 1, 1, 1, 20)
	s.Update(2, 0, 0, 1, 2, 2, 30)
	s.TruncateFrom(1)
	if s.Len() != 1 {
		t.Fatalf("after truncate: %d producers, want 1", s.Len())
	}
	if _, err := s.Check(1, 0, 1, 1); err != nil {
		t.Fatalf("producer 1 should continue at seq 1: %v", err)
	}
	s.ExpireBefore(11)
	if s.Len() != 0 {
		t.Fatalf("after expiry: %d producers", s.Len())
	}
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	s := NewProducerState()
	for id := int64(0); id < 20; id++ {
		for i := int32(0); i < 7; i++ {
			s.Update(id, int16(id%3), i*2, 2, int64(i)*10, int64(i)*10+1, int64(i))
		}
	}
	data := s.MarshalSnapshot(1234)
	got, leo, err := UnmarshalSnapshot(data)
	if err != nil || leo != 1234 {
		t.Fatalf("unmarshal: leo %d, %v", leo, err)
	}
	if string(got.MarshalSnapshot(1234)) != string(data) {
		t.Fatal("snapshot does not round-trip")
	}
	for i := range data {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x40
		if _, _, err := UnmarshalSnapshot(bad); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	for n := 0; n < len(data); n += 7 {
		if _, _, err := UnmarshalSnapshot(data[:n]); err == nil {
			t.Fatalf("truncated snapshot of %d bytes accepted", n)
		}
	}
}

func FuzzUnmarshalSnapshot(f *testing.F) {
	s := NewProducerState()
	s.Update(1, 0, 0, 1, 0, 0, 0)
	f.Add(s.MarshalSnapshot(1))
	f.Add([]byte("SPS1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = UnmarshalSnapshot(b)
	})
}
