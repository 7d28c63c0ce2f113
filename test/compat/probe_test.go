package compat

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaPythonProbe lets kafka-python 2.0 find out the broker's version
// its own way (ApiVersions v0 with a pipelined Metadata v0, then Metadata v1)
// and checks it infers a version new enough for headers and zstd (2.1+).
func TestKafkaPythonProbe(t *testing.T) {
	requirePython(t, "kafka")
	addr := startBroker(t)
	ctx, cancel := context.WithTimeout(t.Context(), pairTimeout)
	defer cancel()
	_, adm := newAdmin(t, addr)
	topic := uniqueTopic("probe-kafka-python")
	createTopic(ctx, t, adm, addr, topic)

	out, err := runTool(ctx, t, nil, debianPython, "py/kafka_python_client.py", "probe", "--brokers", addr)
	if err != nil {
		t.Fatalf("kafka-python probe: %v", err)
	}
	var got struct {
		APIVersion []int    `json:"api_version"`
		Topics     []string `json:"topics"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("kafka-python probe output %q: %v", out, err)
	}
	t.Logf("kafka-python inferred broker version %v", got.APIVersion)
	if slices.Compare(got.APIVersion, []int{2, 1, 0}) < 0 {
		t.Errorf("kafka-python inferred broker version %v, want at least 2.1.0 (headers, zstd)", got.APIVersion)
	}
	if !slices.Contains(got.Topics, topic) {
		t.Errorf("kafka-python's metadata lists %d topics without %s", len(got.Topics), topic)
	}
}

// TestPipelinedOldProbe sends, in one write on one connection, what old
// clients send first: ApiVersions v0, Metadata v0 and Metadata v1. The
// broker must answer all three, in order, each decodable at its version.
func TestPipelinedOldProbe(t *testing.T) {
	addr := startBroker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, adm := newAdmin(t, addr)
	topic := uniqueTopic("probe-pipelined")
	createTopic(ctx, t, adm, addr, topic)

	apiVersions := kmsg.NewPtrApiVersionsRequest() // Version 0
	metadataV0 := kmsg.NewPtrMetadataRequest()
	metadataV1 := kmsg.NewPtrMetadataRequest()
	metadataV1.Version = 1
	for _, m := range []*kmsg.MetadataRequest{metadataV0, metadataV1} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		m.Topics = append(m.Topics, rt)
	}
	resps, err := pipeline(ctx, seeds(addr)[0], apiVersions, metadataV0, metadataV1)
	if err != nil {
		t.Fatalf("pipelined probe: %v", err)
	}

	av := resps[0].(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		t.Fatalf("ApiVersions v0: %v", err)
	}
	// What kafka-python 2.0 sends once it has probed.
	for _, kv := range []struct{ key, version int16 }{{0, 7}, {1, 4}, {2, 1}, {3, 0}, {3, 1}, {18, 0}} {
		i := slices.IndexFunc(av.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == kv.key })
		if i < 0 {
			t.Errorf("ApiVersions v0 does not list %s", kmsg.NameForKey(kv.key))
			continue
		}
		if k := av.ApiKeys[i]; kv.version < k.MinVersion || kv.version > k.MaxVersion {
			t.Errorf("ApiVersions v0 lists %s %d-%d, kafka-python 2.0 sends v%d", kmsg.NameForKey(kv.key), k.MinVersion, k.MaxVersion, kv.version)
		}
	}
	for i, resp := range resps[1:] {
		md := resp.(*kmsg.MetadataResponse)
		if len(md.Brokers) == 0 {
			t.Errorf("Metadata v%d: no brokers", i)
		}
		if len(md.Topics) != 1 || md.Topics[0].Topic == nil || *md.Topics[0].Topic != topic {
			t.Errorf("Metadata v%d: topics %v, want only %s", i, md.Topics, topic)
			continue
		}
		if err := kerr.ErrorForCode(md.Topics[0].ErrorCode); err != nil || len(md.Topics[0].Partitions) != topicPartitions {
			t.Errorf("Metadata v%d: topic %s: error %v, %d partitions, want %d", i, topic, err, len(md.Topics[0].Partitions), topicPartitions)
		}
	}
}

// TestProduceV0Advertised checks that ApiVersions advertises Produce from
// v0 even if the broker rejects v0-v2 requests, as Kafka 4.0 does:
// librdkafka (kcat, confluent-kafka) enables gzip, snappy and lz4 only when
// it sees Produce v0 and otherwise sends those batches uncompressed without
// a word (KAFKA-18659). TestCrossClient's stored-codec check shows the
// effect; this test names the cause.
func TestProduceV0Advertised(t *testing.T) {
	addr := startBroker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, adm := newAdmin(t, addr)
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	for _, bv := range versions.Sorted() {
		if bv.Err != nil {
			t.Errorf("broker %d: ApiVersions: %v", bv.NodeID, bv.Err)
			continue
		}
		minV, maxV, ok := bv.KeyVersions(0)
		switch {
		case !ok:
			t.Errorf("broker %d does not advertise Produce", bv.NodeID)
		case minV != 0:
			t.Errorf("broker %d advertises Produce v%d-v%d; librdkafka needs min version 0 to compress with gzip/snappy/lz4 (KAFKA-18659)", bv.NodeID, minV, maxV)
		}
	}
}

// maxProbeResponse bounds a response size read by pipeline.
const maxProbeResponse = 1 << 20

// pipeline writes every request (correlation ids 1..n) in a single write on
// a new connection, then reads the n responses and checks they come back in
// order. The framing is Kafka's (int32 size, int32 correlation id, and for
// these non-flexible versions no header tags); bodies go through kmsg.
func pipeline(ctx context.Context, addr string, reqs ...kmsg.Request) ([]kmsg.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("kafka-python-2.0.2"))
	var out []byte
	for i, req := range reqs {
		if req.IsFlexible() {
			return nil, fmt.Errorf("pipeline reads only non-flexible responses, %s v%d is flexible", kmsg.NameForKey(req.Key()), req.GetVersion())
		}
		// AppendRequest sizes the frame from the start of dst, so each
		// request is formatted on its own and then concatenated.
		out = append(out, formatter.AppendRequest(nil, req, int32(i+1))...)
	}
	if _, err := conn.Write(out); err != nil {
		return nil, fmt.Errorf("write %d pipelined requests: %w", len(reqs), err)
	}
	resps := make([]kmsg.Response, 0, len(reqs))
	for i, req := range reqs {
		name := fmt.Sprintf("%s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return nil, fmt.Errorf("read size of response %d (%s): %w", i+1, name, err)
		}
		n := binary.BigEndian.Uint32(size[:])
		if n < 4 || n > maxProbeResponse {
			return nil, fmt.Errorf("response %d (%s): size %d out of range", i+1, name, n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(conn, body); err != nil {
			return nil, fmt.Errorf("read response %d (%s): %w", i+1, name, err)
		}
		if corr := int32(binary.BigEndian.Uint32(body)); corr != int32(i+1) {
			return nil, fmt.Errorf("response %d (%s) has correlation id %d: out of order", i+1, name, corr)
		}
		resp := req.ResponseKind()
		resp.SetVersion(req.GetVersion())
		if err := resp.ReadFrom(body[4:]); err != nil {
			return nil, fmt.Errorf("decode response %d (%s): %w", i+1, name, err)
		}
		resps = append(resps, resp)
	}
	return resps, nil
}
