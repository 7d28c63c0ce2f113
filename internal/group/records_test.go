package group

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

func TestPartitionForMatchesJava(t *testing.T) {
	for _, tc := range []struct {
		s    string
		hash int32
	}{
		{"", 0},
		{"hello", 99162322},
		{"Hello World", -862545276},
		{"\U0001F600", 1772899}, // a surrogate pair: 0xD83D*31 + 0xDE00
		{"é", 233},
	} {
		if got := javaStringHash(tc.s); got != tc.hash {
			t.Errorf("hash(%q) = %d, want %d", tc.s, got, tc.hash)
		}
	}
	// Utils.abs masks the sign bit: "Hello World" -> (-862545276 & 0x7fffffff) % 50.
	if got, want := PartitionFor("Hello World", 50), int32((-862545276&0x7fffffff)%50); got != want {
		t.Fatalf("PartitionFor = %d, want %d", got, want)
	}
	if PartitionFor("x", 0) != 0 {
		t.Fatal("no partitions must give 0")
	}
}

func TestBatchRoundTrip(t *testing.T) {
	oc := OffsetCommit{Offset: 42, LeaderEpoch: 7, Metadata: "md", CommitTimestamp: 1000, ExpireTimestamp: -1}
	gv := kmsg.NewGroupMetadataValue()
	gv.ProtocolType, gv.Generation = "consumer", 3
	recs := []Record{
		offsetCommitRecord("g", "t", 1, oc),
		offsetTombstone("g", "t", 2),
		groupMetadataRecord("g", &gv),
		groupTombstone("h"),
	}
	batch := EncodeBatch(recs, 1234)
	h, err := samsalog.ValidateBatch(batch)
	if err != nil {
		t.Fatalf("batch does not validate: %v", err)
	}
	if h.NumRecords != 4 || h.MaxTimestamp != 1234 || h.ProducerID != -1 {
		t.Fatalf("header %+v", h)
	}
	check := func(batch []byte) {
		t.Helper()
		var got []Record
		var scratch []byte
		if err := forEachRecord(batch, &scratch, func(k, v []byte) error {
			got = append(got, Record{Key: bytes.Clone(k), Value: bytes.Clone(v)})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("%d records, want %d", len(got), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(got[i].Key, recs[i].Key) || !bytes.Equal(got[i].Value, recs[i].Value) || (got[i].Value == nil) != (recs[i].Value == nil) {
				t.Fatalf("record %d differs", i)
			}
		}
	}
	check(batch)
	// A compressed batch written by another tool reads the same.
	zipped, err := compress.Recompress(bytes.Clone(batch), compress.Zstd, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	check(zipped)

	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(recs[0].Key); err != nil || k.Version != 1 || k.Group != "g" || k.Topic != "t" || k.Partition != 1 {
		t.Fatalf("offset key %+v %v", k, err)
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(recs[0].Value); err != nil || v.Version != 3 || v.Offset != 42 || v.LeaderEpoch != 7 {
		t.Fatalf("offset value %+v %v", v, err)
	}
	if kindOf(recs[0].Key) != kindOffset || kindOf(recs[2].Key) != kindGroup || kindOf([]byte{0, 5}) != kindUnknown {
		t.Fatal("kindOf")
	}
}

func TestForEachRecordRejectsGarbage(t *testing.T) {
	batch := EncodeBatch([]Record{{Key: []byte("k"), Value: []byte("v")}}, 1)
	var scratch []byte
	for _, cut := range []int{10, samsalog.BatchHeaderSize, len(batch) - 1} {
		if err := forEachRecord(batch[:cut], &scratch, func(k, v []byte) error { return nil }); err == nil {
			t.Errorf("batch cut at %d accepted", cut)
		}
	}
}

// memLog is an in-memory Log.
type memLog struct {
	batches [][]byte
	fail    error
}

func (l *memLog) Append(b []byte) (int64, error) {
	if l.fail != nil {
		return 0, l.fail
	}
	l.batches = append(l.batches, bytes.Clone(b))
	return int64(len(l.batches) - 1), nil
}
func (l *memLog) Committed(int64) bool                                       { return true }
func (l *memLog) WaitCommitted(_ int64, _ <-chan struct{}, done func(error)) { done(nil) }
func (l *memLog) Scan(fn func([]byte) error) error {
	for _, b := range l.batches {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func TestLoadRestoresGroupsAndOffsets(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(2)
	h.commit(ids[0], h.g.generation, "t", map[int32]int64{0: 5, 1: 6}, "m")
	h.commit(ids[0], h.g.generation, "t", map[int32]int64{0: 7}, "")
	log := &memLog{}
	log.Append(EncodeBatch(h.written, 1))
	log.Append(EncodeBatch([]Record{offsetCommitRecord("other", "u", 0, OffsetCommit{Offset: 1, ExpireTimestamp: -1}), offsetTombstone("other", "u", 0), groupTombstone("gone")}, 2))

	l := newLoader()
	if err := log.Scan(l.batch); err != nil {
		t.Fatal(err)
	}
	lg := l.groups["g"]
	if lg == nil || lg.meta == nil || len(lg.offsets) != 2 {
		t.Fatalf("loaded %+v", lg)
	}
	if oc := lg.offsets[topicPartition{"t", 0}]; oc.Offset != 7 || oc.LeaderEpoch != 3 {
		t.Fatalf("t-0: %+v", oc)
	}
	if oc := lg.offsets[topicPartition{"t", 1}]; oc.Metadata != "m" {
		t.Fatalf("t-1: %+v", oc)
	}
	if len(l.groups["other"].offsets) != 0 {
		t.Fatal("tombstone not applied")
	}
	g := newGroup("g", &h.cfg, h.now)
	g.restore(lg.meta, h.now)
	if g.state != StateStable || len(g.members) != 2 || g.leader != ids[0] || g.generation != h.g.generation {
		t.Fatalf("restored %s with %d members, leader %s, gen %d", g.state, len(g.members), g.leader, g.generation)
	}
	if string(g.members[ids[1]].assignment) != "a-"+ids[1] {
		t.Fatalf("assignment %q", g.members[ids[1]].assignment)
	}
	// Restored members must heartbeat within their session.
	g.Tick(h.now.Add(11 * time.Second))
	if g.state != StateEmpty || g.generation != h.g.generation+1 {
		t.Fatalf("state %s, generation %d after the sessions of restored members ended", g.state, g.generation)
	}
}
