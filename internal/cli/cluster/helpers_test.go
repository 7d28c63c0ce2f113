package cluster

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clitest"
)

func TestMain(m *testing.M) {
	// Poll fast: kfake answers at once, and the timeout tests wait for
	// a deadline measured in polls.
	pollInterval = 10 * time.Millisecond
	drainCheckTimeout = 5 * time.Second
	os.Exit(m.Run())
}

// fake is a three-broker kfake cluster (node ids 0, 1, 2) on 127.0.0.1 that
// records the reassignment requests the commands send.
type fake struct {
	c     *kfake.Cluster
	addrs string

	mu sync.Mutex
	// alters are the AlterPartitionReassignments requests, in order.
	alters []*kmsg.AlterPartitionAssignmentsRequest
	// elections are the ElectLeaders requests, in order.
	elections []*kmsg.ElectLeadersRequest
	// unregistered are the broker ids of UnregisterBroker requests.
	unregistered []int32
}

func newFake(t *testing.T) *fake {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	f := &fake{c: c, addrs: strings.Join(c.ListenAddrs(), ",")}
	// Observe without handling: kfake answers as usual.
	c.ControlKey(int16(kmsg.AlterPartitionAssignments), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.mu.Lock()
		f.alters = append(f.alters, r.(*kmsg.AlterPartitionAssignmentsRequest))
		f.mu.Unlock()
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.ElectLeaders), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.mu.Lock()
		f.elections = append(f.elections, r.(*kmsg.ElectLeadersRequest))
		f.mu.Unlock()
		return nil, nil, false
	})
	return f
}

// admin returns an admin client for setup and checks behind the CLI's back.
func (f *fake) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(f.addrs, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// topic creates a topic with partitions partitions of replication factor
// rf; with place, partition p is then led by (and, at rf 1, only on)
// broker place(p).
func (f *fake) topic(t *testing.T, partitions int32, rf int16, place func(p int32) int32) string {
	t.Helper()
	name := uniqueName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.admin(t).CreateTopic(ctx, partitions, rf, nil, name); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if place != nil {
		for p := range partitions {
			if err := f.c.MoveTopicPartition(name, p, place(p)); err != nil {
				t.Fatalf("place %s-%d: %v", name, p, err)
			}
		}
	}
	return name
}

// applyReassignments makes kfake carry out reassignments of rf-1 topics:
// the partition moves to its single target replica.
func (f *fake) applyReassignments() {
	f.c.ControlKey(int16(kmsg.AlterPartitionAssignments), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		for _, t := range r.(*kmsg.AlterPartitionAssignmentsRequest).Topics {
			for _, p := range t.Partitions {
				if len(p.Replicas) == 1 {
					f.c.MoveTopicPartition(t.Topic, p.Partition, p.Replicas[0])
				}
			}
		}
		return nil, nil, false
	})
}

// answerElections answers ElectLeaders with success for every partition
// asked (kfake itself would rotate the leader to the next broker).
func (f *fake) answerElections() {
	f.c.ControlKey(int16(kmsg.ElectLeaders), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		req := r.(*kmsg.ElectLeadersRequest)
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition = p
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// serveUnregister makes the cluster advertise and answer UnregisterBroker
// (kfake has no such API): ApiVersions answers gain key 64, and requests
// are recorded and answered with errCode.
func (f *fake) serveUnregister(t *testing.T, errCode int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(f.addrs, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("api versions: %v", err)
	}
	keys := slices.Clone(base.ApiKeys)
	keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: unregisterBrokerKey, MinVersion: 0, MaxVersion: 0})
	f.c.ControlKey(int16(kmsg.ApiVersions), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		resp := r.(*kmsg.ApiVersionsRequest).ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = slices.Clone(keys)
		return resp, nil, true
	})
	f.c.ControlKey(unregisterBrokerKey, func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		req := r.(*kmsg.UnregisterBrokerRequest)
		f.mu.Lock()
		f.unregistered = append(f.unregistered, req.BrokerID)
		f.mu.Unlock()
		resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
		resp.ErrorCode = errCode
		return resp, nil, true
	})
}

// listRunning makes ListPartitionReassignments report every partition of
// running as still moving (replicas [0 1], adding [1], removing [0]) for
// the first polls answers, then lets kfake answer (nothing running). With
// pollsOnly it answers only requests naming partitions (the progress polls
// of a waiting command), not those asking for every reassignment.
func (f *fake) listRunning(running map[string][]int32, polls int, pollsOnly bool) {
	n := 0
	f.c.ControlKey(int16(kmsg.ListPartitionReassignments), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if pollsOnly && r.(*kmsg.ListPartitionReassignmentsRequest).Topics == nil {
			f.c.KeepControl()
			return nil, nil, false
		}
		if n >= polls {
			return nil, nil, false
		}
		n++
		f.c.KeepControl()
		resp := r.(*kmsg.ListPartitionReassignmentsRequest).ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		for topic, ps := range running {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = topic
			for _, p := range ps {
				rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
				rp.Partition = p
				rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = []int32{0, 1}, []int32{1}, []int32{0}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// assigned returns the reassignment targets the CLI sent, by topic and
// partition.
func (f *fake) assigned() map[string]map[int32][]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[int32][]int32{}
	for _, req := range f.alters {
		for _, t := range req.Topics {
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32][]int32{}
			}
			for _, p := range t.Partitions {
				out[t.Topic][p.Partition] = p.Replicas
			}
		}
	}
	return out
}

// elected returns the partitions of every ElectLeaders request, sorted.
func (f *fake) elected(topic string) []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int32
	for _, req := range f.elections {
		for _, t := range req.Topics {
			if t.Topic == topic {
				out = append(out, t.Partitions...)
			}
		}
	}
	slices.Sort(out)
	return out
}

// replicas returns the replica lists of topic from a fresh Metadata request.
func replicas(t *testing.T, brokers, topic string) map[int32][]int32 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	out := map[int32][]int32{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p.Replicas
		}
	}
	return out
}

// uniqueName returns a topic name unique to this test run.
func uniqueName(t *testing.T) string { return clitest.UniqueName(t) }

// result is what one in-process command run produced.
type result struct {
	stdout, stderr string
	err            error
}

// run runs `cluster args... --brokers brokers` in-process with a deadline,
// so that a hung command fails the test.
func run(t *testing.T, brokers string, args ...string) result {
	t.Helper()
	cmd := NewCommand()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	r := clitest.RunTimeout(cmd, brokers, "", args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, err: r.Err}
}

func mustRun(t *testing.T, brokers string, args ...string) result {
	t.Helper()
	r := run(t, brokers, args...)
	if r.err != nil {
		t.Fatalf("cluster %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

func mustFail(t *testing.T, brokers string, args ...string) result {
	t.Helper()
	r := run(t, brokers, args...)
	if r.err == nil {
		t.Fatalf("cluster %s: succeeded, want an error\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.stdout, r.stderr)
	}
	return r
}

var columnStart = regexp.MustCompile(`\S+`)

// section returns the table under "TITLE\n=====" up to the next blank line.
func section(t *testing.T, out, title string) string {
	t.Helper()
	head := title + "\n" + strings.Repeat("=", len(title)) + "\n"
	i := strings.Index(out, head)
	if i < 0 {
		t.Fatalf("no %s section in:\n%s", title, out)
	}
	rest := out[i+len(head):]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

// tableRows parses an aligned table (header first, single-word headers)
// into maps by column name, cutting lines at the header's column starts.
func tableRows(t *testing.T, s string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("no table in %q", s)
	}
	locs := columnStart.FindAllStringIndex(lines[0], -1)
	var rows []map[string]string
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		row := map[string]string{}
		for i, loc := range locs {
			h := lines[0][loc[0]:loc[1]]
			if loc[0] >= len(l) {
				row[h] = ""
				continue
			}
			end := len(l)
			if i+1 < len(locs) && locs[i+1][0] < len(l) {
				end = locs[i+1][0]
			}
			row[h] = strings.TrimSpace(l[loc[0]:end])
		}
		rows = append(rows, row)
	}
	return rows
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode json: %v\n%s", err, s)
	}
}
