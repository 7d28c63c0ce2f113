package broker

import (
	"sync/atomic"
)

// metrics are the broker's counters. They are plain atomics so the produce
// and fetch paths pay one add each; the HTTP layer exports them.
type metrics struct {
	producedBatches atomic.Int64
	producedBytes   atomic.Int64
	produceErrors   atomic.Int64

	consumerFetchBytes atomic.Int64 // record bytes sent to consumers by this leader
	followerReadBytes  atomic.Int64 // record bytes sent to consumers by this follower (KIP-392)
	replicaFetchBytes  atomic.Int64 // record bytes sent to follower replicas
	readRedirects      atomic.Int64 // consumers sent to a follower in their rack
}

func newMetrics() *metrics { return &metrics{} }

// produced counts one produce of a partition batch.
func (m *metrics) produced(bytes int, err error) {
	if err != nil {
		m.produceErrors.Add(1)
		return
	}
	m.producedBatches.Add(1)
	m.producedBytes.Add(int64(bytes))
}

// fetchTally sums the record bytes of one fetch answer by kind.
type fetchTally struct{ consumer, follower, replica int64 }

// add counts the bytes read for one partition.
func (t *fetchTally) add(bytes int, toReplica, asFollower bool) {
	switch {
	case toReplica:
		t.replica += int64(bytes)
	case asFollower:
		t.follower += int64(bytes)
	default:
		t.consumer += int64(bytes)
	}
}

// fetched counts a fetch answer that is sent (not one built and dropped
// to wait for more data).
func (m *metrics) fetched(t fetchTally) {
	if t.consumer > 0 {
		m.consumerFetchBytes.Add(t.consumer)
	}
	if t.follower > 0 {
		m.followerReadBytes.Add(t.follower)
	}
	if t.replica > 0 {
		m.replicaFetchBytes.Add(t.replica)
	}
}

// Stats is a point-in-time copy of the broker's counters and of the state
// of the partitions it leads (Kafka's LeaderCount, UnderReplicatedPartitions
// and UnderMinIsrPartitionCount).
type Stats struct {
	ProducedBatches    int64 `json:"produced_batches"`
	ProducedBytes      int64 `json:"produced_bytes"`
	ProduceErrors      int64 `json:"produce_errors"`
	FetchSessions      int   `json:"fetch_sessions"`
	ConsumerFetchBytes int64 `json:"consumer_fetch_bytes"`
	FollowerReadBytes  int64 `json:"follower_read_bytes"`
	ReplicaFetchBytes  int64 `json:"replica_fetch_bytes"`
	ReadRedirects      int64 `json:"preferred_read_replica_redirects"`

	LeaderPartitions          int `json:"leader_partitions"`
	UnderReplicatedPartitions int `json:"under_replicated_partitions"`
	UnderMinISRPartitions     int `json:"under_min_isr_partitions"`
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	s := Stats{
		ProducedBatches:    b.metrics.producedBatches.Load(),
		ProducedBytes:      b.metrics.producedBytes.Load(),
		ProduceErrors:      b.metrics.produceErrors.Load(),
		FetchSessions:      b.fetchSessions.len(),
		ConsumerFetchBytes: b.metrics.consumerFetchBytes.Load(),
		FollowerReadBytes:  b.metrics.followerReadBytes.Load(),
		ReplicaFetchBytes:  b.metrics.replicaFetchBytes.Load(),
		ReadRedirects:      b.metrics.readRedirects.Load(),
	}
	for _, t := range b.view().topics {
		for _, pv := range t.partitions {
			if pv.leader != b.nodeID || pv.local == nil {
				continue
			}
			s.LeaderPartitions++
			if len(pv.isr) < len(pv.replicas) {
				s.UnderReplicatedPartitions++
			}
			if len(pv.isr) < max(pv.local.Settings().MinInsyncReplicas, 1) {
				s.UnderMinISRPartitions++
			}
		}
	}
	return s
}
