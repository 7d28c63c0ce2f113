package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// allCodecs are the batch codecs Kafka defines, by the names every driver
// takes on its command line.
var allCodecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// client is one Kafka client as the suite drives it.
type client struct {
	name string
	// codecs are the codecs this client can produce with.
	codecs []string
	// perRecordHeaders is false for a client that can only attach the same
	// headers to every record (kcat -H); makeRecords follows it.
	perRecordHeaders bool
	// require fails t with the install hint when the client's tools are
	// missing.
	require func(t *testing.T)
	// produce sends recs, in order, to topic with the given codec.
	produce func(ctx context.Context, t *testing.T, addr, topic, codec string, recs []record) error
	// consume reads n records from the start of all partitions of topic.
	consume func(ctx context.Context, t *testing.T, addr, topic string, n int) ([]record, error)
}

func kcatClient() client {
	return client{
		name:             "kcat",
		codecs:           allCodecs,
		perRecordHeaders: false,
		require:          requireKcat,
		produce:          kcatProduce,
		consume:          kcatConsume,
	}
}

// kcatProduce pipes "key:value" lines into `kcat -P -K:`; kcat's -H sets
// the same headers on every record.
func kcatProduce(ctx context.Context, t *testing.T, addr, topic, codec string, recs []record) error {
	var in strings.Builder
	for _, r := range recs {
		if strings.ContainsAny(*r.Key, ":\n") || strings.Contains(*r.Value, "\n") {
			return fmt.Errorf("kcat: record %q cannot be sent as a key:value line", *r.Key)
		}
		fmt.Fprintf(&in, "%s:%s\n", *r.Key, *r.Value)
	}
	args := []string{"-b", addr, "-t", topic, "-P", "-K", ":", "-X", "acks=all", "-X", "linger.ms=5"}
	if codec != "none" {
		args = append(args, "-z", codec)
	}
	for _, h := range constantHeaders("kcat") {
		args = append(args, "-H", h.Key+"="+*h.Value)
	}
	_, err := runTool(ctx, t, []byte(in.String()), "kcat", args...)
	return err
}

// kcatMessage is one line of `kcat -C -J` output; headers come as a flat
// [key, value, key, value, ...] list.
type kcatMessage struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Key       *string   `json:"key"`
	Payload   *string   `json:"payload"`
	Headers   []*string `json:"headers"`
}

func kcatConsume(ctx context.Context, t *testing.T, addr, topic string, n int) ([]record, error) {
	out, err := runTool(ctx, t, nil, "kcat", "-b", addr, "-t", topic, "-C", "-o", "beginning", "-e", "-c", strconv.Itoa(n), "-J")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var recs []record
	for dec.More() {
		if len(recs) >= maxRecordsOutput {
			return nil, fmt.Errorf("kcat: more than %d records", maxRecordsOutput)
		}
		var m kcatMessage
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("kcat: parse output line %d: %w", len(recs), err)
		}
		if len(m.Headers)%2 != 0 {
			return nil, fmt.Errorf("kcat: odd header list %v", m.Headers)
		}
		r := record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Payload}
		for i := 0; i < len(m.Headers); i += 2 {
			if m.Headers[i] == nil {
				return nil, fmt.Errorf("kcat: null header name at offset %d", m.Offset)
			}
			r.Headers = append(r.Headers, header{Key: *m.Headers[i], Value: m.Headers[i+1]})
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// driverClient is a client driven through one of the suite's driver scripts,
// which all share the produce/consume command line of py/ and node/.
func driverClient(name string, require func(*testing.T), command ...string) client {
	return client{
		name:             name,
		codecs:           allCodecs,
		perRecordHeaders: true,
		require:          require,
		produce: func(ctx context.Context, t *testing.T, addr, topic, codec string, recs []record) error {
			in, err := encodeRecords(recs)
			if err != nil {
				return err
			}
			args := append(command[1:len(command):len(command)], "produce", "--brokers", addr, "--topic", topic, "--codec", codec)
			_, err = runTool(ctx, t, in, command[0], args...)
			return err
		},
		consume: func(ctx context.Context, t *testing.T, addr, topic string, n int) ([]record, error) {
			args := append(command[1:len(command):len(command)], "consume", "--brokers", addr, "--topic", topic, "--count", strconv.Itoa(n), "--timeout", "45")
			out, err := runTool(ctx, t, nil, command[0], args...)
			if err != nil {
				return nil, err
			}
			return parseRecords(out)
		},
	}
}

func kafkaPythonClient() client {
	return driverClient("kafka-python", func(t *testing.T) {
		t.Helper()
		requirePython(t, "kafka", "snappy", "lz4", "zstandard")
	}, debianPython, "py/kafka_python_client.py")
}

func confluentClient() client {
	return driverClient("confluent", func(t *testing.T) {
		t.Helper()
		requirePython(t, "confluent_kafka")
	}, debianPython, "py/confluent_client.py")
}

func kafkajsClient() client {
	return driverClient("kafkajs", requireKafkajs, "node", "node/kafkajs_client.js")
}
