package broker

// Leader hints (KIP-951). A Produce (v10+) or Fetch (v16+) partition that
// reached a broker that does not lead it, or that named an old leader
// epoch, is answered with the leader and epoch this broker knows
// (CurrentLeader), and the response lists those leaders' endpoints
// (NodeEndpoints). A client that understands them (franz-go, the Java
// client 3.7+, librdkafka 2.4+) moves the partition to its new leader at
// once instead of waiting for its next metadata refresh, which franz-go
// throttles to one per 5 s by default: after a leader moves, its producers
// carry on within a round trip.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Versions that carry leader hints.
const (
	produceHintVersion = 10
	fetchHintVersion   = 16
)

// leaderHints collects the hints of one response against one view.
type leaderHints struct {
	view  *clusterView
	named []brokerView // the leaders hinted at, each once
}

// wantsLeaderHint reports whether a partition error code is one a leader
// hint answers.
func wantsLeaderHint(code int16) bool {
	return code == kerr.NotLeaderForPartition.Code || code == kerr.FencedLeaderEpoch.Code
}

// lookup returns partition index of t's leader and leader epoch, if the
// partition has a leader among the live brokers, and remembers the leader
// for the response's endpoints.
func (h *leaderHints) lookup(t *topicView, index int32) (leader, epoch int32, ok bool) {
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		return -1, -1, false
	}
	pv := &t.partitions[index]
	if pv.leader < 0 {
		return -1, -1, false
	}
	for _, br := range h.named {
		if br.nodeID == pv.leader {
			return pv.leader, pv.leaderEpoch, true
		}
	}
	for _, br := range h.view.brokers {
		if br.nodeID == pv.leader {
			h.named = append(h.named, br)
			return pv.leader, pv.leaderEpoch, true
		}
	}
	return -1, -1, false // the leader is fenced: the client must ask metadata
}

// rackPtr returns a broker's rack as the wire's nullable string.
func (br brokerView) rackPtr() *string {
	if br.rack == "" {
		return nil
	}
	r := br.rack
	return &r
}

// addProduceHints fills the leader hints of a produce response of the
// given version from the current view.
func (b *Broker) addProduceHints(version int16, resp *kmsg.ProduceResponse) {
	if version < produceHintVersion {
		return
	}
	h := leaderHints{view: b.view()}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		var t *topicView
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if !wantsLeaderHint(rp.ErrorCode) {
				continue
			}
			if t == nil {
				t = h.view.topics[rt.Topic]
			}
			if id, epoch, ok := h.lookup(t, rp.Partition); ok {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = id, epoch
			}
		}
	}
	for _, br := range h.named {
		resp.Brokers = append(resp.Brokers, kmsg.ProduceResponseBroker{
			NodeID: br.nodeID, Host: br.host, Port: br.port, Rack: br.rackPtr()})
	}
}

// addFetchHint fills the leader hint of one fetch partition answered with
// an error, if the version carries hints.
func (h *leaderHints) addFetchHint(version int16, t *topicView, rp *kmsg.FetchResponseTopicPartition) {
	if version < fetchHintVersion || !wantsLeaderHint(rp.ErrorCode) {
		return
	}
	if id, epoch, ok := h.lookup(t, rp.Partition); ok {
		rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = id, epoch
	}
}

// addFetchEndpoints lists the hinted leaders in a fetch response.
func (h *leaderHints) addFetchEndpoints(resp *kmsg.FetchResponse) {
	for _, br := range h.named {
		resp.Brokers = append(resp.Brokers, kmsg.FetchResponseBroker{
			NodeID: br.nodeID, Host: br.host, Port: br.port, Rack: br.rackPtr()})
	}
}
