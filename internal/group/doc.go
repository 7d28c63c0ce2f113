// Package group is samsa's group coordinator: consumer groups (the classic
// JoinGroup/SyncGroup protocol and KIP-848 consumer groups) and committed
// offsets, kept in the internal compacted topic __consumer_offsets.
//
// # Who coordinates what
//
// The coordinator of group G is the leader of partition
// PartitionFor(G, offsets.topic.num.partitions) of __consumer_offsets
// (Kafka's hash: Java's String.hashCode with the sign bit masked). A
// Coordinator holds one shard per partition this node leads; the broker
// tells it which ones with SetLeadership after every metadata change, so a
// coordinator moves with partition leadership.
//
// # Goroutines and ownership
//
//   - One goroutine per shard (shard.run, started by SetLeadership, stopped
//     by SetLeadership or Close through the shard's stop channel) owns the
//     shard's groups, parked requests and timers. Requests reach it through
//     its inbox (post); answers go back through the callbacks the broker
//     passed, called on that goroutine and never blocking.
//   - A loader goroutine per shard start replays the partition and hands
//     the result to run; it ends by itself or when stop closes.
//   - A waiter goroutine per write whose batch is not yet below the high
//     watermark (never with one replica) ends when the watermark passes,
//     stop closes or the broker closes.
//
// The Coordinator's mutex guards only its shard map and is never held
// while a shard is waited for. No lock is held across a network wait: a
// JoinGroup or SyncGroup that must wait is parked (the broker returns a
// wire.Response whose Ready channel the callback closes).
//
// # The state machine
//
// A Group is a deterministic state machine: every method takes the time,
// changes only the Group and returns Effects (responses to send, records
// to append, a continuation once the append is committed). Timers are
// deadlines the shard arms from Group.Deadline and delivers through
// Group.Tick. The scenario tests drive Groups with a fake clock and no
// goroutines.
//
// Classic states: Empty -> PreparingRebalance (a member joined, left,
// changed its protocols or expired) -> CompletingRebalance (everyone
// rejoined or the rebalance timeout passed; the leader got the members)
// -> Stable (the leader's assignment is written) -> ... ; Dead once
// deleted. KIP-848 groups are Empty, Reconciling or Stable.
//
// # Records in __consumer_offsets
//
// Kafka's own formats, encoded with kmsg, in uncompressed record batches v2
// without producer id:
//
//	key OffsetCommitKey v1 {group, topic, partition}
//	  -> OffsetCommitValue v3 {offset, leader epoch, metadata, commit time}
//	     (v1 with an expire time for OffsetCommit v1-v4 retention)
//	key GroupMetadataKey v2 {group}
//	  -> GroupMetadataValue v3 {protocol type, generation, protocol, leader,
//	     state time, members with subscription and assignment}
//
// A null value is a tombstone (offset deleted, group deleted). A commit is
// acknowledged only after its batch is below the high watermark. A shard
// loads by replaying its partition from the log start (later records win)
// and answers COORDINATOR_LOAD_IN_PROGRESS meanwhile. KIP-848 membership is
// not written (kmsg lacks those record types): after a coordinator change
// those members rejoin; their offsets are ordinary commits.
//
// # Retention
//
// Every offsets.retention.check.interval.ms a shard expires offsets
// (KIP-211): all offsets of a group that has been Empty for
// offsets.retention.minutes (commit time for groups that only store
// offsets), offsets of topics a consumer group no longer subscribes to, and
// explicit expiries. An Empty group left without offsets is deleted.
package group
