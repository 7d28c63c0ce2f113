// Package replicacheck compares the replicas of a partition on disk after
// the nodes of a test cluster stopped: Digest reads one replica's log
// directory into a list of batch digests, Compare finds where replicas
// disagree.
//
// Replicas may differ in length (a follower out of the ISR lags, a leader
// may hold a tail not yet replicated, retention may have trimmed one more
// than another) but never in content: every offset present on two replicas
// must be inside the same batch on both, stamped with the same leader
// epoch and with the same CRC. A replica that diverges from another (for
// instance an old leader's tail that was never truncated after a failover)
// is reported from the first differing batch on.
//
// Digest never modifies the directory it reads: internal/log has no
// read-only mode (Open recovers a torn tail, rebuilds indexes and Close
// writes a clean-shutdown marker), so Digest copies the directory's files
// into a temporary directory and opens the copy. The digests are thus those
// of the log as a restarted node would see it after recovery.
package replicacheck

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// BatchDigest identifies one record batch of a replica's log.
type BatchDigest struct {
	BaseOffset  int64
	LastOffset  int64
	LeaderEpoch int32  // partitionLeaderEpoch stamped by the leader that appended it
	CRC         uint32 // CRC-32C of the batch from its attributes on (covers the records and producer fields)
	// ProducerID, ProducerEpoch and BaseSequence are the idempotent
	// producer's fields (-1 for a plain producer).
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Records       int32 // record count
	Attributes    int16 // compression, timestamp type, transactional and control bits
}

// String is "base-last epoch E crc C producer P/E seq S".
func (d BatchDigest) String() string {
	return fmt.Sprintf("%d-%d epoch %d crc %08x producer %d/%d seq %d",
		d.BaseOffset, d.LastOffset, d.LeaderEpoch, d.CRC, d.ProducerID, d.ProducerEpoch, d.BaseSequence)
}

// sameBatch reports whether a and b describe the same stored batch.
func sameBatch(a, b BatchDigest) bool { return a == b }

// Digest reads the partition log in dir (a "<topic>-<partition>" directory
// of a samsa data dir) and returns one entry per batch from the log start
// to the log end, in offset order. dir is copied to a temporary directory
// first and never modified. If the log is corrupt past what recovery
// repairs, Digest returns the batches before the damage with an error that
// wraps log.ErrCorruptLog.
func Digest(dir string) ([]BatchDigest, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("replicacheck: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("replicacheck: %s is not a directory", dir)
	}
	tmp, err := os.MkdirTemp("", "replicacheck-*")
	if err != nil {
		return nil, fmt.Errorf("replicacheck: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyDir := filepath.Join(tmp, filepath.Base(dir))
	if err := copyFiles(dir, copyDir); err != nil {
		return nil, err
	}
	cfg := log.DefaultConfig()
	cfg.RetentionMs, cfg.RetentionBytes = -1, -1
	l, err := log.Open(vfs.OS{}, copyDir, cfg)
	if err != nil {
		return nil, fmt.Errorf("replicacheck: open copy of %s: %w", dir, err)
	}
	var out []BatchDigest
	scanErr := l.ScanBatches(l.LogStartOffset(), func(h log.BatchHeader, _ []byte) error {
		out = append(out, BatchDigest{
			BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), LeaderEpoch: h.PartitionLeaderEpoch,
			CRC: h.CRC, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
			BaseSequence: h.BaseSequence, Records: h.NumRecords, Attributes: h.Attributes,
		})
		return nil
	})
	closeErr := l.Close()
	if scanErr != nil {
		return out, fmt.Errorf("replicacheck: scan %s: %w", dir, scanErr)
	}
	if closeErr != nil {
		return out, fmt.Errorf("replicacheck: close copy of %s: %w", dir, closeErr)
	}
	return out, nil
}

// DigestAll digests the replica directory of each node (node id -> dir).
func DigestAll(dirs map[int32]string) (map[int32][]BatchDigest, error) {
	out := make(map[int32][]BatchDigest, len(dirs))
	for _, id := range slices.Sorted(maps.Keys(dirs)) {
		d, err := Digest(dirs[id])
		if err != nil {
			return nil, fmt.Errorf("replicacheck: node %d: %w", id, err)
		}
		out[id] = d
	}
	return out, nil
}

// copyFiles copies the regular files of src (not its subdirectories) into
// a new directory dst.
func copyFiles(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("replicacheck: %w", err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("replicacheck: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("replicacheck: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("replicacheck: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("replicacheck: copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("replicacheck: copy %s: %w", src, err)
	}
	return nil
}

// Compare checks digests of the same partition from several nodes (node
// id -> digests in offset order) and returns one sentence per problem,
// empty when they agree: a replica whose batches are not contiguous, and,
// for every pair of replicas, the first batch where they differ within the
// offsets both hold (from the higher log start to the lower log end).
func Compare(replicas map[int32][]BatchDigest) []string {
	var out []string
	ids := slices.Sorted(maps.Keys(replicas))
	for _, id := range ids {
		out = append(out, checkContiguous(id, replicas[id])...)
	}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if d, ok := firstDifference(a, replicas[a], b, replicas[b]); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// checkContiguous reports batches that do not follow their predecessor
// directly.
func checkContiguous(id int32, ds []BatchDigest) []string {
	var out []string
	for i, d := range ds {
		if d.LastOffset < d.BaseOffset {
			out = append(out, fmt.Sprintf("node %d: batch %s ends before it starts", id, d))
		}
		if i > 0 && d.BaseOffset != ds[i-1].LastOffset+1 {
			out = append(out, fmt.Sprintf("node %d: batch %s follows a batch ending at %d", id, d, ds[i-1].LastOffset))
		}
	}
	return out
}

// firstDifference walks the offsets both replicas hold and describes the
// first batch that differs.
func firstDifference(idA int32, a []BatchDigest, idB int32, b []BatchDigest) (string, bool) {
	if len(a) == 0 || len(b) == 0 {
		return "", false
	}
	lo := max(a[0].BaseOffset, b[0].BaseOffset)
	hi := min(a[len(a)-1].LastOffset, b[len(b)-1].LastOffset) + 1
	i, _ := slices.BinarySearchFunc(a, lo, byLastOffset)
	j, _ := slices.BinarySearchFunc(b, lo, byLastOffset)
	for ; i < len(a) && j < len(b); i, j = i+1, j+1 {
		x, y := a[i], b[j]
		if x.BaseOffset >= hi || y.BaseOffset >= hi {
			return "", false
		}
		if sameBatch(x, y) {
			continue
		}
		at := max(min(x.BaseOffset, y.BaseOffset), lo)
		why := ""
		switch {
		case x.BaseOffset != y.BaseOffset || x.LastOffset != y.LastOffset:
			why = "different batch boundaries"
		case x.CRC == y.CRC && x.LeaderEpoch != y.LeaderEpoch:
			why = "same records under different leader epochs"
		case x.CRC != y.CRC:
			why = "different records"
		default:
			why = "different batch headers"
		}
		return fmt.Sprintf("nodes %d and %d diverge at offset %d (%s): node %d has %s, node %d has %s",
			idA, idB, at, why, idA, x, idB, y), true
	}
	return "", false
}

// byLastOffset orders a batch against an offset by the batch's last offset,
// so that a binary search finds the first batch holding or after offset.
func byLastOffset(d BatchDigest, offset int64) int { return cmp.Compare(d.LastOffset, offset) }
