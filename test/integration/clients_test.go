package integration

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// keyedRecords returns n records over keys distinct keys; each value carries
// its sequence number, so per-key order can be checked on the way out.
func keyedRecords(topic, codec string, n, keys int) []record {
	recs := make([]record, n)
	pad := strings.Repeat("payload-", 8)
	for i := range recs {
		recs[i] = record{
			key:   fmt.Sprintf("key-%03d", i%keys),
			value: fmt.Sprintf("%s/%s/%06d/%s", topic, codec, i, pad),
			headers: []header{
				{"seq", strconv.Itoa(i)},
				{"codec", codec},
				{"empty", ""},
			},
		}
	}
	return recs
}

// seqOf returns the sequence number a keyedRecords value carries.
func seqOf(value string) (int, bool) {
	parts := strings.Split(value, "/")
	if len(parts) != 4 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[2])
	return n, err == nil
}

// checkConsumed compares what a consumer got with what was sent: every
// record exactly once and intact, offsets dense per partition (from 0), each
// key in one partition, and per-key order kept. It returns one line per
// problem (the first few of each kind).
func checkConsumed(sent, got []record) []string {
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	want := make(map[string]record, len(sent))
	for _, r := range sent {
		want[r.value] = r
	}
	seen := make(map[string]bool, len(got))
	byPartition := map[int32][]record{}
	for _, r := range got {
		w, ok := want[r.value]
		switch {
		case !ok:
			add("unexpected record %q at %d/%d", r.value, r.partition, r.offset)
			continue
		case seen[r.value]:
			add("record %q received twice (at %d/%d)", r.value, r.partition, r.offset)
			continue
		}
		seen[r.value] = true
		if r.key != w.key {
			add("record %q: key %q, want %q", r.value, r.key, w.key)
		}
		if !slices.Equal(r.headers, w.headers) {
			add("record %q: headers %v, want %v", r.value, r.headers, w.headers)
		}
		byPartition[r.partition] = append(byPartition[r.partition], r)
	}
	if len(seen) != len(sent) {
		add("%d of %d records received", len(seen), len(sent))
	}
	keyPartition := map[string]int32{}
	for p, recs := range byPartition {
		slices.SortFunc(recs, func(a, b record) int { return int(a.offset - b.offset) })
		lastSeq := map[string]int{}
		for i, r := range recs {
			if r.offset != int64(i) {
				add("partition %d: offset %d at position %d, offsets are not dense from 0", p, r.offset, i)
				break
			}
			if kp, ok := keyPartition[r.key]; ok && kp != p {
				add("key %q in partitions %d and %d", r.key, kp, p)
			}
			keyPartition[r.key] = p
			seq, _ := seqOf(r.value)
			if last, ok := lastSeq[r.key]; ok && seq < last {
				add("key %q: record %d after record %d in partition %d", r.key, seq, last, p)
			}
			lastSeq[r.key] = seq
		}
	}
	return problems
}

// TestClientsCodecs produces 10,000 keyed records with headers into a
// 3-partition topic per codec and producing client (franz-go, sarama,
// kafka-go), consumes every topic back with every client, and checks the
// records, their order and offsets, and the codec the broker stored.
// -short produces 2,000 records per codec with one client per codec, in turn.
func TestClientsCodecs(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 2_000
	}
	const partitions, keys = 3, 97
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	nd := startNode(t, nil)
	ctx := testContext(t, 3*time.Minute)
	adm := newAdmin(t, nd.addr)
	for i, codec := range codecs {
		for j, prod := range goClients {
			if testing.Short() && j != i%len(goClients) {
				continue
			}
			t.Run(codec+"/"+prod.name, func(t *testing.T) {
				testClientsCodec(ctx, t, nd.addr, adm, prod, codec, n, partitions, keys)
			})
		}
	}
}

// testClientsCodec is one producer and codec of TestClientsCodecs.
func testClientsCodec(ctx context.Context, t *testing.T, addr string, adm *kadm.Client, prod goClient, codec string, n int, partitions int32, keys int) {
	topic := "clients-" + codec + "-" + prod.name
	createTopic(ctx, t, adm, topic, partitions, nil)
	sent := keyedRecords(topic, codec, n, keys)
	start := time.Now()
	if err := prod.produce(ctx, addr, topic, codec, sent); err != nil {
		t.Fatalf("produce with %s: %v", prod.name, err)
	}
	t.Logf("%s produced %d %s records in %v", prod.name, n, codec, time.Since(start).Round(time.Millisecond))
	checkStoredCodec(t, addr, topic, partitions, int8(slices.Index(codecNames, codec)), n)
	for _, cons := range goClients {
		start := time.Now()
		got, err := cons.consume(ctx, addr, topic, partitions, n)
		if err != nil {
			t.Errorf("consume with %s: %v", cons.name, err)
			continue
		}
		for _, p := range checkConsumed(sent, got) {
			t.Errorf("%s → %s: %s", prod.name, cons.name, p)
		}
		t.Logf("%s consumed %d records in %v", cons.name, len(got), time.Since(start).Round(time.Millisecond))
	}
}

// TestTopicCompressionType checks that a topic's compression.type decides
// the stored codec: batches sent with another codec are recompressed (and
// still read back intact by every client), "producer" keeps the producer's.
func TestTopicCompressionType(t *testing.T) {
	const n, partitions, keys = 2_000, 3, 17
	nd := startNode(t, nil)
	ctx := testContext(t, 2*time.Minute)
	adm := newAdmin(t, nd.addr)
	tests := []struct {
		topicCodec, sentCodec string
		stored                int8
	}{
		{"zstd", "gzip", 4},
		{"lz4", "none", 3},
		{"gzip", "snappy", 1},
		{"snappy", "zstd", 2},
		{"uncompressed", "lz4", 0},
		{"producer", "snappy", 2},
	}
	for i, tc := range tests {
		prod := goClients[i%len(goClients)]
		t.Run(tc.topicCodec+"/"+tc.sentCodec+"/"+prod.name, func(t *testing.T) {
			topic := "compression-type-" + tc.topicCodec
			createTopic(ctx, t, adm, topic, partitions, map[string]*string{"compression.type": ptr(tc.topicCodec)})
			sent := keyedRecords(topic, tc.sentCodec, n, keys)
			if err := prod.produce(ctx, nd.addr, topic, tc.sentCodec, sent); err != nil {
				t.Fatalf("produce with %s: %v", prod.name, err)
			}
			checkStoredCodec(t, nd.addr, topic, partitions, tc.stored, n)
			for _, cons := range goClients {
				got, err := cons.consume(ctx, nd.addr, topic, partitions, n)
				if err != nil {
					t.Errorf("consume with %s: %v", cons.name, err)
					continue
				}
				for _, p := range checkConsumed(sent, got) {
					t.Errorf("%s → %s: %s", prod.name, cons.name, p)
				}
			}
		})
	}
}
