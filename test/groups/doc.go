// Package groups tests samsa's consumer groups end to end: real nodes
// started in process (internal/testutil/testserver) and real clients —
// franz-go (classic and KIP-848), sarama and kafka-go — joining groups,
// splitting partitions, committing offsets, losing members and resuming
// after a broker restart.
//
// Session timeouts are the broker minimum (6 s) and the tests run in
// parallel, each on its own node, so that the suite stays well under a
// minute and a half; every wait polls a condition with a deadline. The
// benchmarks (offset commits per second, rebalance time) run with -bench.
//
//	go test ./test/groups/
package groups
