// Package metadata is samsa's replicated metadata: the brokers, topics,
// partitions (replicas, ISR, leader, epochs), config overrides, producer-id
// blocks and the cluster id, kept as a state machine on a Raft log. A
// node's metadata is the replay of that log, starting from a snapshot
// (DESIGN.md rule 6).
//
// # Layers
//
//  1. Records (records.go) are the changes: RegisterBroker, CreateTopic,
//     DeleteTopic, CreatePartitions, AlterConfigs, AllocateProducerIDs,
//     ChangePartition, InitCluster, and Batch (several records, all or
//     nothing). EncodeRecord/DecodeRecord turn them into Raft entries: a
//     format version byte, a type byte and JSON (codec.go), bounded by the
//     Max* limits when decoding.
//  2. State (state.go) applies records deterministically: no goroutines,
//     clock or I/O. It rejects records that would break an invariant
//     (duplicate topics, ISR outside the replicas, stale partition epochs,
//     ...) with the Err* sentinels; a rejected record changes nothing.
//  3. Image (image.go) is the result: an immutable value, shared by
//     copy-on-write between successive versions, read without locks.
//     WriteSnapshot/ReadSnapshot serialise a whole image (snapshot.go).
//  4. Node (node.go, node_run.go) is the thin shell: a hashicorp/raft
//     instance whose FSM is a State, the latest Image in an atomic
//     pointer, Propose to replicate a record, and Subscribe to learn
//     about new images.
//
// Deciding what to propose (validation against Kafka's rules, placement,
// id allocation) belongs to package controller, which runs on the leader.
//
// # Why hashicorp/raft
//
// github.com/hashicorp/raft is the Raft library behind Consul, Nomad and
// Vault: mature, with a TCP transport, snapshots with log compaction,
// membership changes (AddVoter, AddNonvoter, RemoveServer) and leadership
// transfer built in, which the replicated-cluster work needs. Its log and
// stable store here is raft-boltdb/v2 (bbolt, one fsync per batch of
// entries); snapshots use raft's FileSnapshotStore. etcd's raft would give
// a purer core but leave transport, storage and snapshot plumbing to us.
//
// # On disk
//
//	<data-dir>/__cluster_metadata/raft.db          bbolt: Raft log + term/vote
//	<data-dir>/__cluster_metadata/snapshots/<term>-<index>-<ms>/
//	                                meta.json      raft snapshot metadata
//	                                state.bin      WriteSnapshot output
//
// # Goroutines
//
//   - Raft's own goroutines (main loop, FSM, snapshots, replication,
//     transport): started by Open (raft.NewRaft), stopped by
//     Close through raft.Shutdown, which also closes the listener.
//     The FSM goroutine is the only one touching State; it publishes
//     each new Image with an atomic store and a non-blocking send to
//     each subscriber.
//   - Node.run: started by Open, stopped by Close (closes n.stop, then
//     waits on n.wg). It handles leadership changes (barrier, cluster id,
//     the leader gate that Propose waits on) and readiness.
//   - One short-lived goroutine per Propose whose context can end: it
//     waits on the Raft future and ends when Raft resolves it (at the
//     latest at shutdown).
//
// Locks: subMu guards the subscribers; gateMu guards the leader gate. They
// are never held together, and neither is held while calling Raft.
//
// # Quorum, members and the controller listener
//
// Every voter in NodeConfig.Voters bootstraps the same configuration on its
// first start and Raft elects one (50 ms timeouts for a lone voter, 500 ms
// otherwise, so a dead leader is replaced in about a second). A node not
// listed (a broker-only node) does not bootstrap: the controller adds it as
// a non-voter (AddNonvoter) when it registers, and it then receives the log
// like any follower; on restart it finds itself in its stored
// configuration.
//
// The controller listener (NodeConfig.BindAddr) carries two protocols
// (transport.go): a connection that starts with ControllerAPIPreface
// ("SMSA") speaks the Kafka protocol and is handed to
// ControllerAPIListener, where the broker serves the broker-to-controller
// APIs (registration, heartbeats, AlterPartition, forwarded admin
// requests); every other connection is Raft's. A goroutine per accepted
// connection sorts it (bounded: at most 256 unsorted and 64 unaccepted),
// and the accept loop is owned by the transport, stopped by Close.
// Outbound connections are bound to NodeConfig.SourceAddr when it is set.
package metadata
