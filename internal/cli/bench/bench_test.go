package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster starts a one-broker in-process kfake cluster on 127.0.0.1.
func cluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

type runResult struct {
	stdout, stderr string
	err            error
}

// bench runs `bench ARGS --brokers B` in-process with a deadline.
func bench(t *testing.T, brokers string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	cmd := NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(append(args, "--brokers", brokers))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	return runResult{out.String(), errOut.String(), err}
}

func decode[T any](t *testing.T, r runResult) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("command failed: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("bad json: %v\n%s", err, r.stdout)
	}
	return v
}

func TestProduceThenConsume(t *testing.T) {
	brokers := cluster(t)
	self := strconv.Itoa(os.Getpid())
	r := bench(t, brokers, "produce", "load", "--records", "20000", "--record-size", "200",
		"--partitions", "4", "--acks", "1", "--producers", "2", "--quiet", "--format", "json", "--broker-pid", self)
	var keys map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"records", "bytes", "seconds", "records_per_sec", "mb_per_sec",
		"p50_ms", "p99_ms", "p999_ms", "max_ms", "errors", "broker_cpu_seconds", "broker_rss_mb"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %q missing from produce json:\n%s", k, r.stdout)
		}
	}
	p := decode[ProduceResult](t, r)
	if p.Records != 20000 || p.Errors != 0 || p.Bytes != 20000*200 || p.Partitions != 4 || p.Producers != 2 {
		t.Fatalf("produce result %+v", p)
	}
	if p.Seconds <= 0 || p.RecordsPerSec <= 0 || p.MBPerSec <= 0 {
		t.Fatalf("rates %+v", p)
	}
	if !(0 < p.P50Ms && p.P50Ms <= p.P99Ms && p.P99Ms <= p.P999Ms && p.P999Ms <= p.MaxMs) {
		t.Fatalf("latencies not ordered: %+v", p)
	}
	if p.BrokerCPUSeconds == nil || *p.BrokerCPUSeconds < 0 || p.BrokerRSSMB == nil || *p.BrokerRSSMB <= 0 {
		t.Fatalf("broker fields %v %v", p.BrokerCPUSeconds, p.BrokerRSSMB)
	}
	if r.stderr != "" {
		t.Fatalf("--quiet still printed progress: %q", r.stderr)
	}

	c := decode[ConsumeResult](t, bench(t, brokers, "consume", "load", "--quiet", "--format", "json"))
	if c.Records != 20000 || c.Bytes != 20000*200 || c.Errors != 0 || c.Partitions != 4 {
		t.Fatalf("consume result %+v", c)
	}
	if c.BrokerCPUSeconds != nil {
		t.Fatalf("broker cpu reported without --broker-pid: %v", *c.BrokerCPUSeconds)
	}

	// --records stops early; text output has the table header.
	r = bench(t, brokers, "consume", "load", "--records", "5000", "--quiet")
	if r.err != nil || !strings.HasPrefix(r.stdout, "TOPIC  RECORDS  SECONDS") || !strings.Contains(r.stdout, "load   5000 ") {
		t.Fatalf("consume text: %v\n%s", r.err, r.stdout)
	}
}

func TestProduceRateLimit(t *testing.T) {
	brokers := cluster(t)
	p := decode[ProduceResult](t, bench(t, brokers, "produce", "paced", "--records", "2000", "--rate", "2000",
		"--linger", "1ms", "--format", "json"))
	if p.Records != 2000 || p.Errors != 0 {
		t.Fatalf("result %+v", p)
	}
	// Record 1999 is due at 0.9995 s; allow the scheduler some slack but
	// not a runaway producer.
	if p.Seconds < 0.8 || p.Seconds > 5 {
		t.Fatalf("2000 records at 2000/s took %.3f s", p.Seconds)
	}
}

func TestProduceDurationAndProgress(t *testing.T) {
	brokers := cluster(t)
	r := bench(t, brokers, "produce", "timed", "--duration", "1200ms", "--rate", "5000", "--acks", "all")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "rec/s") || !strings.Contains(r.stderr, "p99") {
		t.Fatalf("no progress line on stderr: %q", r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TOPIC") {
		t.Fatalf("summary table:\n%s", r.stdout)
	}
	f := strings.Fields(lines[1])
	n, err := strconv.Atoi(f[1])
	// 1.2 s at 5000/s is at most 6000 records: the pacer must not exceed its
	// rate. How many it reaches below that depends on the machine's load, so
	// only progress is required.
	if err != nil || n < 1 || n > 6100 {
		t.Fatalf("records %q in %s", f[1], lines[1])
	}
}

func TestConsumeEmptyAndMissingTopic(t *testing.T) {
	brokers := cluster(t)
	r := bench(t, brokers, "consume", "nope", "--quiet")
	if r.err == nil || !strings.Contains(r.err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("missing topic: %v", r.err)
	}
	// An empty topic is read at once: its high watermarks are all 0.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "empty"); err != nil {
		t.Fatal(err)
	}
	c := decode[ConsumeResult](t, bench(t, brokers, "consume", "empty", "--quiet", "--format", "json"))
	if c.Records != 0 || c.Partitions != 2 {
		t.Fatalf("consume of an empty topic: %+v", c)
	}
	// The topic exists, so produce uses it as it is.
	p := decode[ProduceResult](t, bench(t, brokers, "produce", "empty", "--records", "1", "--quiet", "--format", "json"))
	if p.Records != 1 || p.Partitions != 2 {
		t.Fatalf("produce one record: %+v", p)
	}
	c = decode[ConsumeResult](t, bench(t, brokers, "consume", "empty", "--quiet", "--format", "json"))
	if c.Records != 1 {
		t.Fatalf("consume %+v", c)
	}
	// Asking for more than exists ends at --idle-timeout with an error and
	// a summary of what was read.
	r = bench(t, brokers, "consume", "empty", "--records", "5", "--idle-timeout", "300ms", "--quiet", "--format", "json")
	if r.err == nil || !strings.Contains(r.err.Error(), "no record for") {
		t.Fatalf("idle timeout: %v", r.err)
	}
	var got ConsumeResult
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Records != 1 {
		t.Fatalf("summary after idle timeout: %v %s", err, r.stdout)
	}
}

func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce", "t", "--acks", "2"}, "--acks"},
		{[]string{"produce", "t", "--compression", "brotli"}, "--compression"},
		{[]string{"produce", "t", "--records", "0"}, "needs --duration"},
		{[]string{"produce", "t", "--record-size", "2000000"}, "does not fit"},
		{[]string{"produce", "t", "--producers", "0"}, "--producers"},
		{[]string{"produce", "t", "--rate", "-1"}, "--rate"},
		{[]string{"produce", "t", "--partitions", "0"}, "--partitions"},
		{[]string{"produce", "t", "--broker-pid", "0"}, "--broker-pid"},
		{[]string{"consume", "t", "--idle-timeout", "0s"}, "--idle-timeout"},
		{[]string{"consume", "t", "--records", "-1"}, "--records"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			// 127.0.0.1:1 is never dialled: validation fails first.
			r := bench(t, "127.0.0.1:1", tc.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %q", r.err, tc.want)
			}
		})
	}
}
