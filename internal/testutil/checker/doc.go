// Package checker turns what a fault test observed into verdicts, in the
// spirit of Jepsen's Kafka and Redpanda analyses. A test feeds a History
// while producers, consumers and groups run against a cluster whose nodes
// it kills, pauses and partitions; afterwards it reads every partition once
// more from the start with a fresh consumer, hands that final log to Final,
// and calls Check.
//
// # Feeding a history
//
//  1. Before each produce call Sent(producer, r) with the record's topic and
//     value (the partition if known, -1 otherwise; the offset is unknown).
//     Values must be unique per send ("producer-seq"). The order of Sent
//     calls of one producer is its send order: call Sent in the order the
//     records are handed to the client.
//  2. When the produce promise returns, call Acked(producer, r) with the
//     partition and offset the broker gave, or Failed(producer, r, err).
//     A record that got no answer before the run ended needs nothing.
//  3. Call Consumed(consumer, r) for every record a consumer read and
//     Committed(group, topic, partition, offset) after every successful
//     offset commit, in the order the commits succeeded.
//  4. After the run, call Final(topic, partition, records) once per
//     partition with the whole log in offset order, then Check.
//
// Every method is safe for concurrent use.
//
// # The rules Check applies
//
//   - Lost: an acknowledged record is absent from the final log.
//   - OffsetMismatch: an acknowledged record is in the final log at another
//     partition or offset than the broker acknowledged; a consumer read a
//     value at an offset where the final log holds another value or nothing
//     (an uncommitted read: the record was truncated away); the final log's
//     offsets are not strictly increasing.
//   - Duplicated: a value appears more than once in the final logs of a
//     topic (idempotent producers must not duplicate, even after retries
//     across failovers).
//   - Reordered: within a partition, the acknowledged records of one
//     producer are not in its send order. Records whose outcome is unknown
//     are left out of this rule.
//   - UnexpectedRecords: a value in the final log that was never sent, that
//     was sent to another partition than the one it is in, or whose send
//     failed definitely.
//   - CommitRegressions: a group's successive successful commits for a
//     partition go backwards, or a committed offset is beyond the final
//     log's end (its last offset + 1).
//   - Incomplete: the history itself is inconsistent (an ack for a value
//     never sent, a value sent twice, a partition that was written, read
//     or committed but has no final log), so some records could not be
//     judged.
//
// A failure is definite when the broker certainly did not write the record:
// the error wraps one of the record-level Kafka errors that no retry can
// have preceded with a success (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE,
// INVALID_RECORD, INVALID_TOPIC_EXCEPTION, INVALID_TIMESTAMP,
// INVALID_REQUIRED_ACKS, UNSUPPORTED_FOR_MESSAGE_FORMAT, TOPIC_AUTHORIZATION_FAILED,
// CLUSTER_AUTHORIZATION_FAILED), or the test marked it with Definite. Every
// other failure (timeouts, NOT_ENOUGH_REPLICAS after retries, a closed
// client, ...) is indefinite: the record may or may not be in the log, and
// is neither lost nor unexpected either way.
package checker
