// Package integration holds samsa's end-to-end suites for a single-node
// broker: a real node (in-process on free loopback ports, or the samsa binary
// as a child process for the crash tests) driven by the Go clients users run
// (franz-go, sarama, kafka-go) and by raw kmsg requests.
//
// The suites, one file each:
//
//	clients_test.go        3 clients x 5 codecs: 10,000 keyed records with headers per codec,
//	                       consumed by every client; per-key order, dense offsets, stored codec
//	idempotent_test.go     franz-go's default idempotent producer; duplicates and sequence gaps
//	list_offsets_test.go   ListOffsets by timestamp (every boundary), earliest, latest, max timestamp
//	configs_test.go        create with configs, Describe/Alter/IncrementalAlterConfigs, retention
//	delete_topics_test.go  DeleteTopics frees the partition directories; re-creation starts empty
//	large_test.go          900 KiB records round-trip; MESSAGE_TOO_LARGE above the limit
//	restart_test.go        SIGKILL during an acks=all, fsync-on-ack produce loop; SIGTERM restart
//	bad_input_test.go      hostile bytes and requests: error codes or closed connections,
//	                       bounded heap, other clients keep being served
//
// Run it with
//
//	go test ./test/integration/           # everything (a couple of minutes)
//	go test -short ./test/integration/    # fewer codecs, rounds and records
//
// The crash tests build cmd/samsa once per test binary (in TestMain, only
// when a test needs it) and run it as a child process they stop by PID.
package integration
