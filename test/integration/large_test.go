package integration

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// randomBytes returns n incompressible bytes.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestLargeMessages round-trips 900 KiB records (under the default
// message.max.bytes of 1 MiB + 12) produced by each Go client and consumed
// by each, uncompressed and random so the batch really is that large.
func TestLargeMessages(t *testing.T) {
	const size, perClient = 900 << 10, 2
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	const topic = "large"
	createTopic(ctx, t, newAdmin(t, nd.addr), topic, 1, nil)
	r := rand.New(rand.NewPCG(1, 2))
	var sent []record
	for _, prod := range goClients {
		var recs []record
		for i := range perClient {
			recs = append(recs, record{key: fmt.Sprintf("%s-%d", prod.name, i), value: string(randomBytes(r, size)),
				headers: []header{{"producer", prod.name}}})
		}
		if err := prod.produce(ctx, nd.addr, topic, "none", recs); err != nil {
			t.Fatalf("produce 900 KiB records with %s: %v", prod.name, err)
		}
		sent = append(sent, recs...)
	}
	for _, cons := range goClients {
		got, err := cons.consume(ctx, nd.addr, topic, 1, len(sent))
		if err != nil {
			t.Errorf("consume with %s: %v", cons.name, err)
			continue
		}
		for _, p := range checkConsumed(sent, got) {
			if len(p) > 200 {
				p = p[:200] + "..."
			}
			t.Errorf("%s: %s", cons.name, p)
		}
	}
}

// batchOfSize returns an uncompressed one-record batch whose size in the
// log (the 12-byte offset and length prefix included, as Kafka counts it
// against max.message.bytes) is exactly total.
func batchOfSize(t *testing.T, total int) []byte {
	t.Helper()
	b := batchtest.New(1, time.Now().UnixMilli())
	valueLen := total - 100
	for range 4 {
		b.Records[0].Value = make([]byte, valueLen)
		enc := b.Encode()
		if len(enc) == total {
			return enc
		}
		valueLen += total - len(enc)
	}
	t.Fatalf("could not build a batch of exactly %d bytes", total)
	return nil
}

// TestMessageTooLarge checks the batch size limit at its boundary:
// message.max.bytes (broker default 1048588) and a topic's
// max.message.bytes, each accepted at exactly the limit and refused with
// MESSAGE_TOO_LARGE one byte above.
func TestMessageTooLarge(t *testing.T) {
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	adm := newAdmin(t, nd.addr)
	createTopic(ctx, t, adm, "too-large-default", 1, nil)
	createTopic(ctx, t, adm, "too-large-topic", 1, map[string]*string{"max.message.bytes": ptr("100000")})
	c := dialRaw(t, nd.addr)
	tests := []struct {
		topic    string
		size     int
		wantCode int16
	}{
		{"too-large-default", 1048588, 0},
		{"too-large-default", 1048589, kerr.MessageTooLarge.Code},
		{"too-large-default", 2 << 20, kerr.MessageTooLarge.Code},
		{"too-large-topic", 100000, 0},
		{"too-large-topic", 100001, kerr.MessageTooLarge.Code},
	}
	for _, tc := range tests {
		leo := logEndOffset(t, c, tc.topic, 0)
		p, err := produceRaw(c, tc.topic, 0, batchOfSize(t, tc.size))
		if err != nil {
			t.Fatalf("%s, %d-byte batch: %v", tc.topic, tc.size, err)
		}
		if p.ErrorCode != tc.wantCode {
			t.Errorf("%s, %d-byte batch: error %s, want %s", tc.topic, tc.size, codeName(p.ErrorCode), codeName(tc.wantCode))
		}
		wantLEO := leo
		if tc.wantCode == 0 {
			wantLEO++
		}
		if got := logEndOffset(t, c, tc.topic, 0); got != wantLEO {
			t.Errorf("%s, %d-byte batch: log end offset %d, want %d", tc.topic, tc.size, got, wantLEO)
		}
	}
}
