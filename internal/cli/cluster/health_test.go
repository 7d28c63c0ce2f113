package cluster

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJudgeHealth(t *testing.T) {
	brokers := kadm.BrokerDetails{{NodeID: 1}, {NodeID: 2}, {NodeID: 3}}
	part := func(p, leader int32, replicas, isr []int32) kadm.PartitionDetail {
		return kadm.PartitionDetail{Partition: p, Leader: leader, Replicas: replicas, ISR: isr}
	}
	topic := func(ps ...kadm.PartitionDetail) kadm.TopicDetail {
		td := kadm.TopicDetail{Partitions: kadm.PartitionDetails{}}
		for _, p := range ps {
			td.Partitions[p.Partition] = p
		}
		return td
	}
	tests := []struct {
		name       string
		md         kadm.Metadata
		reasons    []string
		down       []int32
		all        []int32
		leaderless []string
		under      []string
	}{
		{
			name: "healthy",
			md: kadm.Metadata{Controller: 1, Brokers: brokers, Topics: kadm.TopicDetails{
				"a": topic(part(0, 1, []int32{1, 2, 3}, []int32{1, 2, 3}), part(1, 2, []int32{2, 3, 1}, []int32{2, 3, 1})),
			}},
			reasons: []string{}, down: []int32{}, all: []int32{1, 2, 3}, leaderless: []string{}, under: []string{},
		},
		{
			name: "a node down: its partitions under-replicated, one leaderless",
			md: kadm.Metadata{Controller: 1, Brokers: brokers[:2], Topics: kadm.TopicDetails{
				"b": topic(part(0, 1, []int32{1, 3}, []int32{1}), part(1, -1, []int32{3}, []int32{3})),
				"a": topic(part(0, 2, []int32{2, 3}, []int32{2})),
			}},
			reasons: []string{reasonNodesDown, reasonLeaderless, reasonUnderReplicated},
			down:    []int32{3}, all: []int32{1, 2, 3},
			leaderless: []string{"b/1"}, under: []string{"a/0", "b/0"},
		},
		{
			name:    "no controller, no topics",
			md:      kadm.Metadata{Controller: -1, Brokers: brokers},
			reasons: []string{reasonNoController}, down: []int32{}, all: []int32{1, 2, 3}, leaderless: []string{}, under: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := judgeHealth(tt.md)
			if h.Healthy != (len(tt.reasons) == 0) || !slices.Equal(h.UnhealthyReasons, tt.reasons) {
				t.Errorf("healthy %v reasons %v, want reasons %v", h.Healthy, h.UnhealthyReasons, tt.reasons)
			}
			if !slices.Equal(h.NodesDown, tt.down) || !slices.Equal(h.AllNodes, tt.all) {
				t.Errorf("nodes down %v all %v, want %v %v", h.NodesDown, h.AllNodes, tt.down, tt.all)
			}
			if !slices.Equal(h.Leaderless, tt.leaderless) || !slices.Equal(h.UnderReplicated, tt.under) {
				t.Errorf("leaderless %v under-replicated %v, want %v %v", h.Leaderless, h.UnderReplicated, tt.leaderless, tt.under)
			}
		})
	}
}

// sickMetadata makes f answer its first n Metadata requests (n < 0: all)
// with a cluster whose node 3 is down: sick/0 has no leader and sick/1
// lost its replica on node 3.
func (f *fake) sickMetadata(t *testing.T, n int64) {
	t.Helper()
	var answered atomic.Int64
	addrs := strings.Split(f.addrs, ",")
	f.c.ControlKey(int16(kmsg.Metadata), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		if n >= 0 && answered.Add(1) > n {
			return nil, nil, false
		}
		req := r.(*kmsg.MetadataRequest)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Version = req.Version
		resp.ControllerID = 0
		for i, a := range addrs {
			host, port, _ := net.SplitHostPort(a)
			p, _ := strconv.Atoi(port)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = int32(i), host, int32(p)
			resp.Brokers = append(resp.Brokers, b)
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = kmsg.StringPtr("sick")
		for i, st := range []struct {
			leader        int32
			replicas, isr []int32
		}{{-1, []int32{3}, []int32{3}}, {1, []int32{1, 3}, []int32{1}}} {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.Replicas, mp.ISR = int32(i), st.leader, st.replicas, st.isr
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
		return resp, nil, true
	})
}

func TestHealthHealthy(t *testing.T) {
	f := newFake(t)
	f.topic(t, 3, 1, nil)
	r := run(t, f.addrs, "health")
	if r.err != nil {
		t.Fatalf("health: %v\n%s", r.err, r.stderr)
	}
	for _, want := range []string{"CLUSTER HEALTH OVERVIEW", "Healthy:", "true", "Nodes down:", "[]", "Under-replicated partitions (0):"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, f.addrs, "health", "--exit-when-healthy", "--interval", "10ms", "--format", "json")
	var h health
	if r.err != nil || json.Unmarshal([]byte(r.stdout), &h) != nil || !h.Healthy || !slices.Equal(h.AllNodes, []int32{0, 1, 2}) {
		t.Fatalf("exit-when-healthy on a healthy cluster: %v %+v\n%s", r.err, h, r.stdout)
	}
}

func TestHealthUnhealthy(t *testing.T) {
	f := newFake(t)
	f.sickMetadata(t, -1)
	r := run(t, f.addrs, "health", "--format", "json")
	if r.err != nil {
		t.Fatalf("health (no --exit-when-healthy) must exit 0 whatever the health: %v", r.err)
	}
	var h health
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if h.Healthy || !slices.Equal(h.NodesDown, []int32{3}) || !slices.Equal(h.Leaderless, []string{"sick/0"}) ||
		!slices.Equal(h.UnderReplicated, []string{"sick/1"}) {
		t.Errorf("health = %+v", h)
	}

	r = run(t, f.addrs, "health", "--exit-when-healthy", "--interval", "20ms", "--timeout", "300ms")
	if r.err == nil || !strings.Contains(r.err.Error(), "not healthy within 300ms") || !strings.Contains(r.err.Error(), reasonNodesDown) {
		t.Errorf("exit-when-healthy on a sick cluster: err %v", r.err)
	}
	if r.stdout != "" {
		t.Errorf("nothing is printed until healthy, got:\n%s", r.stdout)
	}
}

func TestHealthExitsOnceHealthy(t *testing.T) {
	f := newFake(t)
	f.topic(t, 1, 1, nil)
	f.sickMetadata(t, 3) // the client's own first requests and two checks see it sick
	r := run(t, f.addrs, "health", "--exit-when-healthy", "--interval", "10ms", "--timeout", "20s")
	if r.err != nil {
		t.Fatalf("health: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "not healthy yet") || !strings.Contains(r.stdout, "true") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

func TestHealthBadFlags(t *testing.T) {
	f := newFake(t)
	for _, args := range [][]string{{"--interval", "0s"}, {"--timeout", "-1s"}} {
		if r := run(t, f.addrs, append([]string{"health"}, args...)...); r.err == nil {
			t.Errorf("health %v: no error", args)
		}
	}
}
