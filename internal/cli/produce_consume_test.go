package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumed is one line of `consume --format json`.
type consumed struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Timestamp int64   `json:"timestamp"`
	Key       *string `json:"key"`
	Value     *string `json:"value"`
	Headers   []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"headers"`
}

func consumeJSON(t *testing.T, brokers string, args ...string) []consumed {
	t.Helper()
	out := mustSamsa(t, brokers, "", append([]string{"consume", "--format", "json"}, args...)...)
	var recs []consumed
	for _, l := range lines(out) {
		var c consumed
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("consume json line %q: %v", l, err)
		}
		recs = append(recs, c)
	}
	return recs
}

// keyedInput returns n lines "key-i:value-i".
func keyedInput(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "key-%d:value-%d\n", i, i)
	}
	return b.String()
}

func TestProduceConsumeCompressions(t *testing.T) {
	brokers := testBrokers(t)
	const n = 1000
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := topicName(t, codec)
			mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "4", "-r", "1")

			out := mustSamsa(t, brokers, keyedInput(n), "produce", topic, "--key-delim", ":",
				"--header", "source=test", "--header", "codec="+codec, "--compression", codec)
			if !strings.Contains(out, fmt.Sprintf("Produced %d records", n)) {
				t.Fatalf("produce summary:\n%s", out)
			}
			total := 0
			for _, row := range tableRows(t, out[strings.Index(out, "\n")+1:]) {
				c, _ := strconv.Atoi(row["RECORDS"])
				last, _ := strconv.Atoi(row["LAST-OFFSET"])
				if row["FIRST-OFFSET"] != "0" || last != c-1 {
					t.Fatalf("partition row %v: offsets not dense from 0", row)
				}
				total += c
			}
			if total != n {
				t.Fatalf("summary counts %d records, want %d:\n%s", total, n, out)
			}

			recs := consumeJSON(t, brokers, topic, "--exit-at-end")
			if len(recs) != n {
				t.Fatalf("consumed %d records, want %d", len(recs), n)
			}
			seen := make(map[string]bool, n)
			next := map[int32]int64{}
			for _, r := range recs {
				if r.Key == nil || r.Value == nil || strings.TrimPrefix(*r.Key, "key-") != strings.TrimPrefix(*r.Value, "value-") {
					t.Fatalf("record key/value mismatch: %+v", r)
				}
				if len(r.Headers) != 2 || r.Headers[0].Key != "source" || r.Headers[0].Value != "test" || r.Headers[1].Value != codec {
					t.Fatalf("headers: %+v", r.Headers)
				}
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				if r.Topic != topic || r.Timestamp <= 0 {
					t.Fatalf("record: %+v", r)
				}
				seen[*r.Key] = true
			}
			if len(seen) != n {
				t.Fatalf("%d distinct keys, want %d", len(seen), n)
			}
			checkCodec(t, brokers, topic, codec)
			// The same key always lands on the same partition.
			byKey := map[string]int32{}
			for _, r := range consumeJSON(t, brokers, topic, "--exit-at-end") {
				if p, ok := byKey[*r.Key]; ok && p != r.Partition {
					t.Fatalf("key %s on partitions %d and %d", *r.Key, p, r.Partition)
				}
				byKey[*r.Key] = r.Partition
			}
		})
	}
}

// checkCodec reads the topic with a plain kgo client and checks that the
// batches on the broker carry the requested compression codec.
func checkCodec(t *testing.T, brokers, topic, codec string) {
	t.Helper()
	want := map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[codec]
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatalf("poll: %v", err)
	}
	n := 0
	for r := range fs.RecordsAll() {
		if got := r.Attrs.CompressionType(); got != want {
			t.Fatalf("record %d/%d has codec %d, want %d (%s)", r.Partition, r.Offset, got, want, codec)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no records fetched")
	}
}

func TestConsumeFormats(t *testing.T) {
	brokers := testBrokers(t)
	topic := topicName(t, "fmt")
	mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "1", "-r", "1")
	mustSamsa(t, brokers, "a:1\nb:2\n:3\nd\n", "produce", topic, "--key-delim", ":", "-H", "h=v", "-H", "x=")

	for _, tc := range []struct {
		name   string
		format string
		want   string
	}{
		{"text", "text", "1\n2\n3\nd\n"},
		{"template", `%p/%o %k=%v [%h] %K %V`, "0/0 a=1 [h=v,x=] 1 1\n0/1 b=2 [h=v,x=] 1 1\n0/2 =3 [h=v,x=] 0 1\n0/3 =d [h=v,x=] 0 1\n"},
		{"template with escapes", `%v\t%%\n`, "1\t%\n2\t%\n3\t%\nd\t%\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "--format", tc.format)
			if got != tc.want {
				t.Fatalf("got:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}

	recs := consumeJSON(t, brokers, topic, "--exit-at-end")
	if len(recs) != 4 || recs[3].Key != nil || *recs[2].Key != "" || *recs[3].Value != "d" {
		t.Fatalf("json: a line without the delimiter has a null key, an empty key stays empty: %+v", recs)
	}

	// Template timestamps agree with json.
	ts := mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "--num", "1", "--format", "%T")
	if strings.TrimSpace(ts) != strconv.FormatInt(recs[0].Timestamp, 10) {
		t.Fatalf("%%T %q vs json timestamp %d", ts, recs[0].Timestamp)
	}
}

func TestConsumeOffsets(t *testing.T) {
	brokers := testBrokers(t)
	topic := topicName(t, "off")
	mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "2", "-r", "1")
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "%d\n", i)
	}
	mustSamsa(t, brokers, in.String(), "produce", topic, "--partition", "1")

	offsets := func(args ...string) (first, last int64, n int) {
		t.Helper()
		recs := consumeJSON(t, brokers, append([]string{topic, "--exit-at-end", "-p", "1"}, args...)...)
		if len(recs) == 0 {
			return -1, -1, 0
		}
		for i, r := range recs {
			if r.Partition != 1 || (i > 0 && r.Offset != recs[i-1].Offset+1) {
				t.Fatalf("%v: record %d: %+v", args, i, r)
			}
		}
		return recs[0].Offset, recs[len(recs)-1].Offset, len(recs)
	}
	for _, tc := range []struct {
		offset      string
		first, last int64
		n           int
	}{
		{"start", 0, 99, 100},
		{"end", -1, -1, 0},
		{"42", 42, 99, 58},
		{"1000", -1, -1, 0}, // past the end: clamped to the end
		{"+10", 10, 99, 90},
		{"-5", 95, 99, 5},
		{"-500", 0, 99, 100}, // before the start: clamped to the start
	} {
		first, last, n := offsets("--offset", tc.offset)
		if first != tc.first || last != tc.last || n != tc.n {
			t.Errorf("--offset %s: got %d..%d (%d records), want %d..%d (%d)", tc.offset, first, last, n, tc.first, tc.last, tc.n)
		}
	}

	// --num stops early; partition 0 is empty.
	if first, last, n := offsets("--num", "7"); first != 0 || last != 6 || n != 7 {
		t.Errorf("--num 7: %d..%d (%d)", first, last, n)
	}
	if got := mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "-p", "0"); got != "" {
		t.Errorf("empty partition printed %q", got)
	}
	if got := lines(mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "-p", "0,1", "-o", "-3")); len(got) != 3 {
		t.Errorf("-p 0,1 -o -3: %q", got)
	}

	// By time: every record of a second batch is newer than the first
	// batch's newest timestamp.
	recs := consumeJSON(t, brokers, topic, "--exit-at-end", "-p", "1")
	newest := recs[len(recs)-1].Timestamp
	waitFor(t, "the clock to pass the first batch", func() bool { return time.Now().UnixMilli() > newest })
	mustSamsa(t, brokers, "late-1\nlate-2\n", "produce", topic, "--partition", "1")
	at := newest + 1
	for _, spec := range []string{
		"@" + strconv.FormatInt(at, 10),
		"@" + time.UnixMilli(at).UTC().Format(time.RFC3339Nano),
	} {
		got := mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "-p", "1", "--offset", spec)
		if got != "late-1\nlate-2\n" {
			t.Errorf("--offset %s: %q", spec, got)
		}
	}
	if got := mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "--offset", "@-1h"); len(lines(got)) != 102 {
		t.Errorf("--offset @-1h: %d records, want 102", len(lines(got)))
	}
	if got := mustSamsa(t, brokers, "", "consume", topic, "--exit-at-end", "--offset", "@"+strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)); got != "" {
		t.Errorf("--offset in the future printed %q", got)
	}
}

func TestProduceOptions(t *testing.T) {
	brokers := testBrokers(t)
	topic := topicName(t, "opts")
	mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "3", "-r", "1")

	// --key for every record, --partition, --verbose json.
	out := mustSamsa(t, brokers, "a\nb\nc\n", "produce", topic, "--key", "k", "--partition", "2", "--verbose", "--format", "json")
	var acks []struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
	}
	for _, l := range lines(out) {
		var a struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		}
		decodeJSON(t, l, &a)
		acks = append(acks, a)
	}
	if len(acks) != 3 || acks[0].Partition != 2 || acks[0].Offset != 0 || acks[2].Offset != 2 {
		t.Fatalf("verbose acks: %+v\n%s", acks, out)
	}
	recs := consumeJSON(t, brokers, topic, "--exit-at-end", "-p", "2")
	if len(recs) != 3 || *recs[1].Key != "k" || *recs[1].Value != "b" {
		t.Fatalf("records: %+v", recs)
	}

	// acks=1 and acks=0 (no idempotence; acks=0 offsets unknown).
	out = mustSamsa(t, brokers, "x\n", "produce", topic, "--acks", "1", "-p", "0")
	if rows := tableRows(t, out[strings.Index(out, "\n")+1:]); rows[0]["FIRST-OFFSET"] != "0" {
		t.Fatalf("acks=1:\n%s", out)
	}
	out = mustSamsa(t, brokers, "y\n", "produce", topic, "--acks", "0", "-p", "0")
	if rows := tableRows(t, out[strings.Index(out, "\n")+1:]); rows[0]["FIRST-OFFSET"] != "-" || rows[0]["RECORDS"] != "1" {
		t.Fatalf("acks=0:\n%s", out)
	}
	waitFor(t, "the acks=0 record", func() bool {
		return mustSamsa(t, brokers, "", "consume", topic, "-e", "-p", "0") == "x\ny\n"
	})

	// Empty input produces nothing and succeeds.
	if out := mustSamsa(t, brokers, "", "produce", topic); !strings.Contains(out, "Produced 0 records") {
		t.Fatalf("empty input:\n%s", out)
	}

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"unknown topic", "x\n", []string{"produce", topic + "-nope"}, "does not exist"},
		{"partition out of range", "x\n", []string{"produce", topic, "-p", "3"}, "has 3 partitions"},
		{"bad compression", "x\n", []string{"produce", topic, "-z", "brotli"}, "--compression"},
		{"bad acks", "x\n", []string{"produce", topic, "--acks", "2"}, "--acks"},
		{"key and delim", "x\n", []string{"produce", topic, "--key", "a", "--key-delim", ":"}, "cannot be used together"},
		{"bad header", "x\n", []string{"produce", topic, "-H", "novalue"}, "--header"},
		{"line too long", strings.Repeat("x", 100) + "\n", []string{"produce", topic, "--max-line-bytes", "10"}, "longer than 10 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustFail(t, brokers, tc.stdin, tc.args...)
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", r.err, tc.want)
			}
		})
	}
}

func TestConsumeErrors(t *testing.T) {
	brokers := testBrokers(t)
	topic := topicName(t, "err")
	mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "2", "-r", "1")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown topic", []string{topic + "-nope"}, "UNKNOWN_TOPIC_OR_PARTITION"},
		{"unknown partition", []string{topic, "-p", "5"}, "has no partition 5"},
		{"bad offset", []string{topic, "-o", "yesterday"}, "--offset"},
		{"bad partition", []string{topic, "-p", "x"}, "--partition"},
		{"partition and group", []string{topic, "-p", "0", "-g", "g"}, "cannot be used with --group"},
		{"yaml", []string{topic, "-f", "yaml"}, "not available"},
		{"unknown verb", []string{topic, "-f", "%q"}, "unknown verb"},
		{"no verb", []string{topic, "-f", "xml"}, "want text, json or a template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustFail(t, brokers, "", append([]string{"consume"}, tc.args...)...)
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", r.err, tc.want)
			}
		})
	}
}

func TestConsumeStopsOnCancel(t *testing.T) {
	brokers := testBrokers(t)
	topic := topicName(t, "cancel")
	mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "1", "-r", "1")

	// A follower at the end waits for records until its context (the
	// signal context in main) is cancelled, then exits cleanly.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- samsaCtx(ctx, brokers, "", "consume", topic, "--offset", "end") }()
	select {
	case r := <-done:
		t.Fatalf("consume returned before cancel: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("consume after cancel: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consume did not stop after cancel")
	}
}

func TestConsumeGroup(t *testing.T) {
	brokers := testBrokers(t)
	topic := topicName(t, "grp")
	group := topicName(t, "group")
	mustSamsa(t, brokers, "", "topic", "create", topic, "-p", "2", "-r", "1")
	mustSamsa(t, brokers, keyedInput(20), "produce", topic, "--key-delim", ":")

	first := consumeJSON(t, brokers, topic, "--group", group, "--num", "5")
	if len(first) != 5 {
		t.Fatalf("first member read %d records, want 5", len(first))
	}
	// The group committed what was printed: the next member reads the rest.
	rest := consumeJSON(t, brokers, topic, "--group", group, "--exit-at-end")
	if len(first)+len(rest) != 20 {
		t.Fatalf("read %d then %d records, want 20 in total", len(first), len(rest))
	}
	seen := map[string]bool{}
	for _, r := range append(first, rest...) {
		if seen[*r.Key] {
			t.Fatalf("key %s read twice", *r.Key)
		}
		seen[*r.Key] = true
	}
	// Nothing left.
	if got := mustSamsa(t, brokers, "", "consume", topic, "--group", group, "--exit-at-end"); got != "" {
		t.Fatalf("third member read %q", got)
	}
}
