// Package integration holds samsa's end-to-end suites for a single-node
// broker: a real node (in-process on free loopback ports, or the samsa binary
// as a child process for the crash tests) driven by the Go clients users run
// (franz-go, sarama, kafka-go) and by raw kmsg requests.
//
// The suites, one file each:
//
//	clients_test.go        3 clients x 5 codecs: 10,000 keyed records with headers per codec and
//	                       producer, consumed by every client; per-key order, dense offsets,
//	                       stored codec; a topic's compression.type recompresses
//	idempotent_test.go     franz-go's default idempotent producer; duplicates, gaps, stale epochs
//	list_offsets_test.go   ListOffsets by timestamp (every boundary), earliest, latest, max timestamp
//	configs_test.go        create with configs, Describe/Alter/IncrementalAlterConfigs, retention
//	delete_topics_test.go  DeleteTopics frees the partition directories; re-creation starts empty
//	large_test.go          900 KiB records round-trip; MESSAGE_TOO_LARGE at the exact limit
//	long_poll_test.go      a parked fetch is woken by the produce it waits for
//	restart_test.go        SIGKILL during an acks=all, fsync-on-ack produce loop; SIGTERM restart
//	bad_input_test.go      hostile frames: closed connections, bounded heap, a bystander client
//	                       that keeps being served
//	bad_requests_test.go   invalid names, partition counts, replication factors and record
//	                       batches: Kafka's error codes; decompression bombs
//
// The helpers: go_clients_test.go (the three clients' produce and consume),
// raw_test.go (a connection speaking kmsg-encoded frames), stored_test.go
// (raw fetches of the stored batches), process_test.go (the samsa binary as
// a child process), helpers_test.go.
//
// Run it with
//
//	go test ./test/integration/           # everything (about 40 s)
//	go test -short ./test/integration/    # one producer per codec, one crash round
//
// The crash tests build cmd/samsa once per test binary (in TestMain, only
// when a test needs it) and run it as a child process they stop by PID.
package integration
