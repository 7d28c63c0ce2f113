package replicacheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// spec is one batch to append: its values, the leader epoch it is stamped
// with and the idempotent producer's base sequence (-1 for none).
type spec struct {
	values []string
	epoch  int32
	seq    int32
}

// encode builds the batch of s.
func (s spec) encode() []byte {
	b := batchtest.Batch{BaseTimestamp: 1_700_000_000_000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	for i, v := range s.values {
		b.Records = append(b.Records, batchtest.Record{Key: []byte("k"), Value: []byte(v), TimestampDelta: int64(i)})
	}
	if s.seq >= 0 {
		b = b.Idempotent(7, 1, s.seq)
	}
	return b.Encode()
}

// batches returns n batches of two records each under epoch, with values
// prefixed by tag.
func batches(n int, epoch int32, tag string) []spec {
	out := make([]spec, n)
	for i := range out {
		out[i] = spec{values: []string{fmt.Sprintf("%s%d.0", tag, i), fmt.Sprintf("%s%d.1", tag, i)}, epoch: epoch, seq: int32(2 * i)}
	}
	return out
}

// writeLog creates a log in a new directory "t-0" with the given batches
// and closes it cleanly; cfg, if not nil, changes the default config.
func writeLog(t *testing.T, specs []spec, cfg func(*log.Config)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "t-0")
	c := log.DefaultConfig()
	if cfg != nil {
		cfg(&c)
	}
	l, err := log.Open(vfs.OS{}, dir, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if _, err := l.Append(s.encode(), s.epoch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func digest(t *testing.T, dir string) []BatchDigest {
	t.Helper()
	d, err := Digest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDigestFields(t *testing.T) {
	specs := []spec{
		{values: []string{"a", "b", "c"}, epoch: 0, seq: -1},
		{values: []string{"d"}, epoch: 3, seq: 5},
	}
	dir := writeLog(t, specs, nil)
	got := digest(t, dir)
	if len(got) != 2 {
		t.Fatalf("got %d digests, want 2: %v", len(got), got)
	}
	for i, want := range []BatchDigest{
		{BaseOffset: 0, LastOffset: 2, LeaderEpoch: 0, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Records: 3},
		{BaseOffset: 3, LastOffset: 3, LeaderEpoch: 3, ProducerID: 7, ProducerEpoch: 1, BaseSequence: 5, Records: 1},
	} {
		want.CRC = binary.BigEndian.Uint32(specs[i].encode()[17:21]) // the CRC does not cover offset and epoch
		if got[i] != want {
			t.Errorf("digest %d = %+v, want %+v", i, got[i], want)
		}
	}
}

func TestDigestManySegments(t *testing.T) {
	specs := batches(40, 1, "v")
	dir := writeLog(t, specs, func(c *log.Config) { c.SegmentBytes = 400 })
	if n := countFiles(t, dir, ".log"); n < 3 {
		t.Fatalf("want several segments, got %d", n)
	}
	got := digest(t, dir)
	if len(got) != len(specs) {
		t.Fatalf("got %d digests, want %d", len(got), len(specs))
	}
	for i, d := range got {
		if d.BaseOffset != int64(2*i) || d.LastOffset != int64(2*i+1) {
			t.Fatalf("digest %d = %v", i, d)
		}
	}
	if problems := checkContiguous(1, got); len(problems) > 0 {
		t.Fatal(problems)
	}
}

func countFiles(t *testing.T, dir, suffix string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}

// snapshot returns every file of dir with its contents.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string][]byte)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func TestDigestLeavesTheDirectoryAlone(t *testing.T) {
	// A crash image: no clean-shutdown marker and a torn batch at the end
	// of the newest segment, which recovery truncates (in the copy only).
	dir := writeLog(t, batches(5, 2, "v"), nil)
	if err := os.Remove(filepath.Join(dir, ".clean-shutdown")); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "00000000000000000000.log")
	torn := batches(1, 2, "torn")[0].encode()
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn[:len(torn)/2]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	got := digest(t, dir)
	if len(got) != 5 || got[4].LastOffset != 9 {
		t.Fatalf("digests after recovery: %v", got)
	}
	after := snapshot(t, dir)
	if len(before) != len(after) {
		t.Fatalf("files changed: before %v, after %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s was modified", name)
		}
	}
}

func TestDigestErrors(t *testing.T) {
	if _, err := Digest(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory: no error")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Digest(file); err == nil {
		t.Error("a file: no error")
	}

	// A damaged batch in a cleanly closed log is not repaired by recovery:
	// Digest returns the batches before it and a corruption error.
	dir := writeLog(t, batches(3, 1, "v"), nil)
	seg := filepath.Join(dir, "00000000000000000000.log")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	first := len(batches(1, 1, "v")[0].encode())
	b[first+len(batches(1, 1, "v")[0].encode())-1] ^= 0xff // last byte of the second batch
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Digest(dir)
	if !log.IsCorruption(err) {
		t.Fatalf("got error %v, want a corruption", err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d digests before the damage, want 1", len(got))
	}
}

func TestCompare(t *testing.T) {
	base := batches(6, 1, "v")
	divergent := append(slices.Clone(base[:3]), batches(3, 2, "w")...)
	reEpoched := slices.Clone(base)
	reEpoched[4].epoch = 2
	merged := append(slices.Clone(base[:2]), spec{values: slices.Concat(base[2].values, base[3].values), epoch: 1, seq: 4})
	merged = append(merged, base[4:]...)

	tests := []struct {
		name     string
		replicas map[int32][]spec
		want     []string // substrings, one per expected difference, in order
	}{
		{"identical", map[int32][]spec{1: base, 2: base, 3: base}, nil},
		{"one shorter", map[int32][]spec{1: base, 2: base[:4], 3: base}, nil},
		{"one empty", map[int32][]spec{1: base, 2: nil}, nil},
		{"one divergent", map[int32][]spec{1: base, 2: divergent, 3: base[:5]}, []string{
			"nodes 1 and 2 diverge at offset 6 (different records)",
			"nodes 2 and 3 diverge at offset 6 (different records)",
		}},
		{"divergent beyond the shorter end", map[int32][]spec{1: base, 2: divergent[:3], 3: divergent}, []string{
			"nodes 1 and 3 diverge at offset 6",
		}},
		{"same records under another epoch", map[int32][]spec{1: base, 2: reEpoched}, []string{
			"nodes 1 and 2 diverge at offset 8 (same records under different leader epochs)",
		}},
		{"different batch boundaries", map[int32][]spec{1: base, 2: merged}, []string{
			"nodes 1 and 2 diverge at offset 4 (different batch boundaries)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			digests := make(map[int32][]BatchDigest)
			for id, specs := range tc.replicas {
				digests[id] = digest(t, writeLog(t, specs, nil))
			}
			got := Compare(digests)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d differences, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("difference %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCompareDigests(t *testing.T) {
	d := func(base, last int64, crc uint32) BatchDigest {
		return BatchDigest{BaseOffset: base, LastOffset: last, CRC: crc, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	}
	full := []BatchDigest{d(0, 1, 1), d(2, 4, 2), d(5, 5, 3), d(6, 9, 4)}
	tests := []struct {
		name     string
		replicas map[int32][]BatchDigest
		want     []string
	}{
		{"log start differs by retention", map[int32][]BatchDigest{1: full, 2: full[2:]}, nil},
		{"no common offsets", map[int32][]BatchDigest{1: full[:1], 2: full[2:]}, nil},
		{"gap inside a replica", map[int32][]BatchDigest{1: {full[0], full[2]}}, []string{
			"node 1: batch 5-5 epoch 0 crc 00000003 producer -1/-1 seq -1 follows a batch ending at 1",
		}},
		{"batch ending before it starts", map[int32][]BatchDigest{1: {d(0, -1, 1)}}, []string{"ends before it starts"}},
		{"divergence after the other's start", map[int32][]BatchDigest{
			1: full, 2: {d(2, 4, 2), d(5, 5, 9)},
		}, []string{"nodes 1 and 2 diverge at offset 5 (different records)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(tc.replicas)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d differences, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("difference %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestDigestAll(t *testing.T) {
	dirs := map[int32]string{1: writeLog(t, batches(3, 1, "v"), nil), 2: writeLog(t, batches(2, 1, "v"), nil)}
	got, err := DigestAll(dirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[1]) != 3 || len(got[2]) != 2 || len(Compare(got)) != 0 {
		t.Fatalf("got %v", got)
	}
	dirs[3] = filepath.Join(t.TempDir(), "missing")
	if _, err := DigestAll(dirs); err == nil || !strings.Contains(err.Error(), "node 3") || errors.Is(err, log.ErrCorruptLog) {
		t.Fatalf("missing replica: err %v", err)
	}
}
