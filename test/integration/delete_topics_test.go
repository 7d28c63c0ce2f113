package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dirSize is the bytes of the regular files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("size of %s: %v", dir, err)
	}
	return total
}

// TestDeleteTopicFreesDisk fills a 3-partition topic with a few MiB,
// deletes it and checks that its partition directories are gone when
// DeleteTopics returns and the data directory shrank by about that much;
// a topic created again under the same name is empty, with a new topic id,
// and takes new records from offset 0.
func TestDeleteTopicFreesDisk(t *testing.T) {
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	adm := newAdmin(t, nd.addr)
	const topic, partitions = "delete-me", 3
	created := createTopic(ctx, t, adm, topic, partitions, nil)
	cl := newClient(t, nd.addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB, stored uncompressed
	const n = 400                                           // ~6.4 MiB
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: value, Partition: int32(i % partitions)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	var dirs []string
	var topicBytes int64
	for p := range partitions {
		dir := filepath.Join(nd.dataDir, fmt.Sprintf("%s-%d", topic, p))
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("partition directory before delete: %v", err)
		}
		dirs = append(dirs, dir)
		topicBytes += dirSize(t, dir)
	}
	if topicBytes < int64(n*len(value)) {
		t.Fatalf("partition directories hold %d bytes, less than the %d bytes of records", topicBytes, n*len(value))
	}
	before := dirSize(t, nd.dataDir)

	resp, err := adm.DeleteTopic(ctx, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after DeleteTopics returned (stat: %v)", filepath.Base(dir), err)
		}
	}
	// Deleted files still open would keep their space.
	for _, dir := range dirs {
		if open := openFilesUnder(t, dir); len(open) > 0 {
			t.Errorf("the server still holds %d files of %s open, e.g. %s", len(open), filepath.Base(dir), open[0])
		}
	}
	// The metadata log grows a little with the deletion: allow 1 MiB.
	if after := dirSize(t, nd.dataDir); after > before-topicBytes+1<<20 {
		t.Errorf("data directory holds %d bytes after the delete, %d before, the topic had %d", after, before, topicBytes)
	}

	// Deleting again: UNKNOWN_TOPIC_OR_PARTITION.
	resp, err = adm.DeleteTopic(ctx, topic)
	if err == nil {
		err = resp.Err
	}
	if !isKafkaErr(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("second delete: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	again := createTopic(ctx, t, adm, topic, partitions, nil)
	if again.ID == created.ID {
		t.Errorf("re-created topic has the old topic id %v", again.ID)
	}
	for ts, want := range map[int64]int64{-2: 0, -1: 0} {
		for p, off := range listOffsets(ctx, t, adm, topic, ts) {
			if off[0] != want {
				t.Errorf("re-created topic partition %d: offset for %d is %d, want %d", p, ts, off[0], want)
			}
		}
	}
	c := dialRaw(t, nd.addr)
	for p := range int32(partitions) {
		fp, err := fetchPartition(c, topic, p, 0, 0)
		if err != nil || fp.ErrorCode != 0 || fp.HighWatermark != 0 || len(fp.RecordBatches) != 0 {
			t.Errorf("fetch of re-created partition %d: err %v code %s hw %d %d bytes", p, err, codeName(fp.ErrorCode), fp.HighWatermark, len(fp.RecordBatches))
		}
	}
	res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("new"), Partition: 1})
	if r, err := res.First(); err != nil || r.Offset != 0 {
		t.Errorf("first record of the re-created topic: offset %v err %v, want offset 0", r, err)
	}
}

// openFilesUnder lists the files under dir this process (which runs the
// server in-process) holds open, from /proc/self/fd; nil where /proc is
// not available.
func openFilesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			out = append(out, target)
		}
	}
	return out
}
