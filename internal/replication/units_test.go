package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

func TestWholeBatches(t *testing.T) {
	b0 := makeBatch(0, 1, 3, "x")
	b1 := makeBatch(3, 1, 2, "x")
	badMagic := bytes.Clone(b1)
	badMagic[16] = 1
	shortLen := bytes.Clone(b1)
	binary.BigEndian.PutUint32(shortLen[8:], 10)
	negBase := makeBatch(0, 1, 1, "x")
	binary.BigEndian.PutUint64(negBase[0:], ^uint64(0))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name    string
		records []byte
		want    [][2]int64 // base, last of each whole batch
		corrupt bool
	}{
		{"empty", nil, nil, false},
		{"one", b0, [][2]int64{{0, 2}}, false},
		{"two", cat(b0, b1), [][2]int64{{0, 2}, {3, 4}}, false},
		{"partial header", cat(b0, b1[:30]), [][2]int64{{0, 2}}, false},
		{"partial body", cat(b0, b1[:len(b1)-1]), [][2]int64{{0, 2}}, false},
		{"only partial", b0[:len(b0)-5], nil, false},
		{"bad magic", cat(b0, badMagic), [][2]int64{{0, 2}}, true},
		{"length below header", cat(b0, shortLen), [][2]int64{{0, 2}}, true},
		{"negative base", negBase, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spans, err := wholeBatches(c.records)
			if c.corrupt != errors.Is(err, samsalog.ErrCorruptBatch) {
				t.Fatalf("err %v, corrupt want %v", err, c.corrupt)
			}
			var got [][2]int64
			pos := 0
			for _, s := range spans {
				got = append(got, [2]int64{s.baseOffset, s.lastOffset})
				if s.pos != pos {
					t.Errorf("span at %d, want %d", s.pos, pos)
				}
				pos += s.size
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("batches %v, want %v", got, c.want)
			}
		})
	}
}

func FuzzWholeBatches(f *testing.F) {
	b0 := makeBatch(0, 1, 3, "x")
	f.Add(b0)
	f.Add(append(bytes.Clone(b0), b0[:20]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, records []byte) {
		spans, _ := wholeBatches(records)
		end := 0
		for _, s := range spans {
			if s.pos != end || s.size < samsalog.BatchHeaderSize || s.pos+s.size > len(records) || s.lastOffset < s.baseOffset {
				t.Fatalf("bad span %+v after %d of %d bytes", s, end, len(records))
			}
			end = s.pos + s.size
		}
	})
}

func TestTruncationTarget(t *testing.T) {
	// The follower knows epochs 1@0, 3@10 and has LEO 20.
	follower := func(e int32) (int32, int64) {
		return endOffsetFor([]epochStart{{1, 0}, {3, 10}}, e, 20)
	}
	none := func(int32) (int32, int64) { return -1, -1 }
	cases := []struct {
		name     string
		epoch    int32
		end, leo int64
		local    func(int32) (int32, int64)
		want     int64
	}{
		{"same epoch, leader shorter", 3, 15, 20, follower, 15},
		{"same epoch, follower epoch shorter", 1, 12, 20, follower, 10},
		{"unknown leader epoch: intermediate", 2, 15, 20, follower, 10},
		{"epoch above all of ours: latest is ours", 4, 18, 20, follower, 18},
		{"no local epochs", 2, 7, 20, none, 7},
		{"no local epochs, leader ahead", 2, 30, 20, none, 20},
		{"undefined leader epoch", -1, 5, 20, follower, 5},
		{"older than all ours", 0, 0, 20, follower, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := truncationTarget(c.epoch, c.end, c.leo, c.local); got != c.want {
				t.Errorf("target %d, want %d", got, c.want)
			}
		})
	}
}

func TestAppendWholeStraddlingBatch(t *testing.T) {
	// The follower holds 0-2 and 3-3; the leader's batch is 3-6.
	r := newFakeReplica("r")
	r.seed(t, makeBatch(0, 1, 3, "a"), makeBatch(3, 1, 1, "a"))
	leaderBatch := makeBatch(3, 1, 4, "b")
	skipped := makeBatch(0, 1, 3, "a") // wholly below the LEO
	if err := appendWhole(r, append(bytes.Clone(skipped), leaderBatch...)); err != nil {
		t.Fatal(err)
	}
	data, leo, _, ops := r.snapshot()
	if leo != 7 || !bytes.Equal(data, append(makeBatch(0, 1, 3, "a"), leaderBatch...)) {
		t.Fatalf("leo %d, data differs from leader", leo)
	}
	if !slices.Equal(ops, []string{"truncate 3", "append 3-6"}) {
		t.Errorf("ops %v", ops)
	}
	// Only stale batches: nothing to do.
	if err := appendWhole(r, skipped); err != nil {
		t.Fatal(err)
	}
	// Only a partial batch: an error, nothing appended.
	if err := appendWhole(r, leaderBatch[:70]); !errors.Is(err, errPartialOnly) {
		t.Errorf("partial only: %v", err)
	}
	// A corrupt batch after a good one: the good one is appended.
	bad := makeBatch(8, 1, 1, "c")
	bad[16] = 0
	err := appendWhole(r, append(makeBatch(7, 1, 1, "c"), bad...))
	if !errors.Is(err, samsalog.ErrCorruptBatch) || !strings.Contains(err.Error(), "r:") {
		t.Errorf("corrupt: %v", err)
	}
	if _, leo, _, _ := r.snapshot(); leo != 8 {
		t.Errorf("leo %d after good+corrupt, want 8", leo)
	}
}

// nonComparable is a Replica whose dynamic type cannot be compared with ==.
type nonComparable struct {
	*fakeReplica
	tags []string
}

func TestSameReplica(t *testing.T) {
	a, b := newFakeReplica("a"), newFakeReplica("b")
	nc := nonComparable{fakeReplica: a}
	cases := []struct {
		name string
		x, y Replica
		want bool
	}{
		{"same pointer", a, a, true},
		{"other pointer", a, b, false},
		{"different types", a, nc, false},
		{"non-comparable", nc, nc, false},
	}
	for _, c := range cases {
		if got := sameReplica(c.x, c.y); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
