// Package compat is samsa's cross-client compatibility suite: every Kafka
// client that users run against samsa produces records that a different
// client consumes, for every compression codec the producer supports, and the
// tests check what arrives and what the broker stored.
//
// The clients are franz-go, sarama and kafka-go (in process) and kcat,
// kafka-python, confluent-kafka (librdkafka) and kafkajs (as subprocesses,
// through the small drivers in py/ and node/). Their tools are installed by
// scripts/install-test-deps.sh; a missing tool fails the suite.
//
// For each producer → consumer pair and codec the suite checks that
//
//  1. every record arrives exactly once (the consumer sees N distinct
//     records and the broker stores N records),
//  2. records keep their order inside each partition,
//  3. keys, values and headers arrive intact, and
//  4. every stored record batch carries the codec the producer asked for
//     (read back with a raw kmsg FetchRequest), with a valid CRC-32C.
//
// The broker under test comes from startBroker (broker_test.go); set
// SAMSA_TEST_BROKERS=host:port to run the suite against any running broker.
// `go test -short` runs one codec per client pair.
//
// Run it with
//
//	bash scripts/install-test-deps.sh   # once; quiet when all is there
//	go test ./test/compat/              # the whole matrix
//	go test -short ./test/compat/       # one codec per pair
//
// TestProduceV0Advertised and the stored-codec check of the kcat and
// confluent pairs fail against a broker that advertises Produce only from
// v3: librdkafka then sends gzip, snappy and lz4 batches uncompressed
// (KAFKA-18659).
package compat
