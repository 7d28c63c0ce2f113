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

// Stats is a point-in-time copy of the broker's counters.
type Stats struct {
	ProducedBatches int64 `json:"produced_batches"`
	ProducedBytes   int64 `json:"produced_bytes"`
	ProduceErrors   int64 `json:"produce_errors"`
	FetchSessions   int   `json:"fetch_sessions"`
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{
		ProducedBatches: b.metrics.producedBatches.Load(),
		ProducedBytes:   b.metrics.producedBytes.Load(),
		ProduceErrors:   b.metrics.produceErrors.Load(),
		FetchSessions:   b.fetchSessions.len(),
	}
}
