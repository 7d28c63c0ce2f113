// Package replication copies partitions from their leaders to this broker's
// follower replicas through the Kafka Fetch protocol, as Kafka's
// ReplicaFetcherThread does.
//
// # Shape
//
// A Manager keeps one fetcher per leader broker. A fetcher owns one
// connection to its leader (conn.go: one TCP connection dialled from
// Config.SourceAddr, requests framed and decoded with kmsg, fetch responses
// read into one reused buffer) and fetches every partition this
// node follows from that leader in one sessionless FetchRequest
// (SessionEpoch -1), long-polling: MaxWaitMillis = Config.MaxWait, MinBytes
// 1, IsolationLevel 0 (read_uncommitted), ReplicaID = Config.NodeID (the
// v0-v14 field and ReplicaState.ID for v15+). Per partition it sends
//
//	FetchOffset        = the replica's log end offset (LEO)
//	CurrentLeaderEpoch = the leader epoch given to Follow
//	LastFetchedEpoch   = the replica's latest epoch (-1 if none)
//	LogStartOffset     = the replica's log start offset
//	PartitionMaxBytes  = Config.MaxPartitionBytes
//
// The connection negotiates the version with ApiVersions when it opens (the
// highest both ends know; v16 against samsa today). Versions below 12 carry no LastFetchedEpoch and
// no DivergingEpoch, so the fetcher refuses them: it never appends what it
// cannot check.
//
// # Truncation before copying (KIP-101, KIP-279, KIP-320)
//
// Every fetch carries LastFetchedEpoch, so the leader checks on every fetch
// that the follower's log agrees with its own up to FetchOffset. When it does
// not, the leader answers DivergingEpoch{Epoch, EndOffset} and no records
// (any records in such a response are ignored). The follower then truncates:
//
//	(e, end) = replica.EndOffsetForEpoch(DivergingEpoch.Epoch)
//	e unknown (-1)                 -> truncate to min(EndOffset, LEO)
//	e != DivergingEpoch.Epoch      -> truncate to min(end, LEO)  (an intermediate
//	                                  step: the next fetch checks again with an
//	                                  older LastFetchedEpoch)
//	e == DivergingEpoch.Epoch      -> truncate to min(end, EndOffset, LEO)
//
// and fetches again, until the leader no longer reports a divergence. A
// target below the replica's log start offset empties the replica
// (TruncateFullyAndStartAt). A truncation that changes neither the log end
// offset nor the latest epoch would make the next fetch ask the same
// question: that happens when the replica led an epoch without writing (its
// epoch cache ends with an entry starting at its log end offset) and its
// TruncateTo(offset >= LEO) keeps that entry, as internal/log does today
// (Kafka drops it). The fetcher then drops the replica's last batch (the
// entry goes with it) and fetches the batch again; a replica that still
// does not move is backed off with an error. A replica that holds records
// but no leader epoch at all cannot be checked, so it is truncated to its
// log start offset before its first fetch.
//
// OFFSET_OUT_OF_RANGE is resolved as Kafka's fetchOffsetAndTruncate does,
// with two ListOffsets requests carrying ReplicaID = NodeID (a leader
// answers "latest" with its LEO for a replica and with its high watermark
// for a consumer; either is safe, the second only truncates more): if the
// leader's latest offset is below the local LEO, truncate to it; otherwise
// ask for the earliest offset and, if it is above the local LEO, restart the
// replica empty at the leader's log start (TruncateFullyAndStartAt).
//
// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, unknown
// topic and every other partition error back the partition off for
// Config.Backoff and keep it: the broker calls Follow again when metadata
// names the new leader or epoch. A partition in error never stops the
// others. Transport errors back the whole fetcher off and reconnect (with
// the address BrokerAddr gives at that moment).
//
// Records may hold several batches and, because of size limits, a partial
// last one (KIP-74): only whole batches are appended (lengths are read from
// each batch header and checked against the bytes received). After an
// append, or an empty answer, the replica's high watermark is advanced with
// UpdateFollowerHighWatermark(HighWatermark of the response).
//
// # Goroutines and ownership
//
// The Manager owns the fetchers; each fetcher runs one goroutine
// (fetcher.run), started by Manager.goFetcher, the only place the Manager's
// WaitGroup grows. A fetcher stops when its last partition leaves it or at
// Close (its context is cancelled, it closes its connection and returns);
// Close waits for every fetcher goroutine.
//
// Locks: Manager.mu guards which fetcher follows which partition;
// fetcher.mu guards the fetcher's partition states and is held while the
// fetcher calls into a Replica (appends and truncations are local and short;
// network requests are never made under it). Lock order: Manager.mu, then
// fetcher.mu. Because of that lock, when Follow or Unfollow returns the old
// fetcher makes no further call on the replica for that partition.
package replication
