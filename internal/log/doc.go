// Package log is one partition's log: an append-only sequence of Kafka
// record batches (v2, magic 2) with dense offsets, kept in segment files in
// one directory, read back by offset or by time, trimmed by retention,
// truncated by followers, and recovered after a crash. It knows nothing of
// the network, topics or replication; all file I/O goes through vfs.FS so
// that tests can crash the file system and inject faults.
//
// # On-disk format
//
// The directory looks like Kafka's:
//
//	<dir>/
//	  00000000000000000000.log        record batches, exactly as on the wire
//	  00000000000000000000.index      offset index
//	  00000000000000000000.timeindex  time index
//	  00000000000000004711.log        next segment: base offset 4711
//	  00000000000000004711.index
//	  00000000000000004711.timeindex
//	  leader-epoch-checkpoint         epoch -> start offset (Kafka's text format)
//	  log-start-offset-checkpoint     written by DeleteRecordsBefore
//	  recovery-point-offset-checkpoint  segments below this base are durable
//	  .clean-shutdown                 written by Close, removed before the next change
//
// A .log file is a run of batches; each batch's base offset is the previous
// batch's last offset + 1 and the first one's is the segment's base offset
// (the 20-digit file name):
//
//	0        8       12      16 17    21    23        27       35      43     51    53     57      61
//	+--------+--------+-------+--+-----+-----+---------+--------+-------+------+-----+------+-------+---------
//	|base    |batch   |leader |ma|crc  |attr |last     |base    |max    |prod. |prod.|base  |record | records
//	|offset  |length  |epoch  |gi|32c  |     |offset Δ |timest. |timest.|id    |epoch|seq.  |count  | ...
//	+--------+--------+-------+--+-----+-----+---------+--------+-------+------+-----+------+-------+---------
//	                                    |<------------- CRC-32C covers attributes .. end ---------------->|
//
// batch length counts the bytes after itself. The broker stamps base
// offset and leader epoch (outside the CRC) and, for LogAppendTime, the
// attributes and max timestamp (recomputing the CRC).
//
// .index holds 8-byte entries, big-endian: int32 relative offset (the
// indexed batch's last offset minus the segment base), int32 byte position
// of that batch in the .log. .timeindex holds 12-byte entries: int64
// timestamp (the largest batch max timestamp so far), int32 relative offset
// of the batch that carried it. Both are sparse and sorted: an entry is
// added before a batch when more than index.interval.bytes were appended
// since the last one (so the first batch of a segment is never indexed),
// and a time entry only when the max timestamp grew. When a segment is
// closed its time index gets a final entry with the segment's max
// timestamp. Indexes are hints: every lookup is checked against the batch
// header it points at, and any index can be rebuilt from its .log.
//
// leader-epoch-checkpoint is "0\n<count>\n" followed by "<epoch>
// <startOffset>\n" lines; log-start-offset-checkpoint and
// recovery-point-offset-checkpoint are "0\n1\n<offset>\n". All three are
// replaced atomically (write <name>.tmp, fsync, rename, fsync the
// directory).
//
// .clean-shutdown is 78 bytes, big-endian: the magic "SAMSACLS", a uint16
// version (1), eight int64s describing the newest segment at Close (base
// offset, .log size, .index size, .timeindex size, log end offset, max
// timestamp, its offset, first batch's max timestamp for segment.ms) and a
// CRC-32C of the preceding bytes.
//
// Leftovers are removed on Open: *.deleted (segments deleted while a reader
// still held them), *.tmp, and index files without a .log.
//
// # Durability and recovery
//
// Appended bytes reach the page cache; they are fsynced by the flush
// policy (flush.messages, flush.ms, MaybeFlush, Flush), before Append
// returns with FsyncOnAck (group commit, below), and when a segment is
// rolled: the roll creates the new segment's files and fsyncs the
// directory at once, and a background flush then fsyncs the closed
// segment's .log and indexes and advances the recovery point past it. So
// every segment below the recovery point is durable and whole: the flush
// never moves the recovery point past a segment it did not fsync itself
// (one that truncation holds or took away meanwhile), and retention
// removes segments under flushMu, so a segment the flush did not see is
// one whose removal the recovery point's own directory fsync makes
// durable.
//
// Deleting a segment renames its files to *.deleted. If the .log cannot be
// renamed the segment stays: retention keeps it and every newer one (the
// log on disk stays contiguous) and reports the error; truncation keeps
// it, leaves the cut segment untouched and makes the log refuse writes.
// A crash during TruncateFullyAndStartAt may leave a prefix of the old log
// (segments go newest first); once it returns the new start is durable.
//
// Open with a clean-shutdown marker whose sizes match the newest segment's
// files trusts it and reads no segment data (10,000 partitions open in a
// fraction of a second). Otherwise every segment from the recovery point on
// is scanned: each batch's header, length, offsets (dense from the segment
// base) and CRC are checked. The newest segment is truncated at its first
// bad batch; a closed segment that is not whole (a torn or corrupt batch,
// or offsets that stop short of the next segment) is truncated the same way
// and the segments after it are deleted, as Kafka does. Indexes of scanned
// segments are rewritten if they differ from what the scan computed.
// Segments below the recovery point are not scanned; their indexes are
// read whole and checked (sorted, in range) the first time they are used
// in a process, and rebuilt if missing or wrong; every index lookup is
// checked against the batch header it lands on. Damage found there later
// (a header that does not parse, a batch that overruns the file, a CRC
// mismatch in ScanBatches) is reported as a *CorruptionError
// (ErrCorruptLog) naming file and position, never a panic. Reads do not
// check CRCs (clients do).
//
// # Concurrency
//
// Many goroutines may call any method. Appends, rolls and truncation are
// serialised by appendMu. Readers never take it: they load the published
// log end offset and segment list (atomically), take a reference on the
// segment they read, and read at most up to the segment's published size.
// A writer publishes bytes first, then the segment size, then the log end
// offset; index entries only ever point at published batches. Retention
// and DeleteRecordsBefore take trimMu, not appendMu, and swap the segment
// list; a deleted segment's files are renamed to *.deleted at once and
// removed when the last reader releases it.
//
// Lock order: appendMu, trimMu, flushMu, listMu, segment.ixMu,
// segment.mu, then the leaves segment.tsMu, epochCache.mu and
// groupCommit.mu.
//
// Goroutines: the log has none of its own while idle. A roll starts one
// short-lived goroutine that runs the background flush of the closed
// segment (flushSealed, serialised by flushMu) and exits; Close waits for
// it. A failed background fsync makes the log refuse writes.
//
// Group commit: with FsyncOnAck an appender releases appendMu, then waits
// in groupCommit for the durable offset to pass its end. The first waiter
// to find no fsync running runs one (of any closed segment not yet flushed,
// then of the active one), covering everything written by then; the others
// wait for it, and one of those left uncovered runs the next.
//
// A failed write is undone (the file is cut back) and reported; a failed
// fsync or undo makes the log refuse writes until it is reopened, since the
// state of the file is then unknown. Open fails, rather than going on
// without it, when the log start checkpoint exists but cannot be read
// (contents that do not parse are ignored, with a warning).
//
// # Scale
//
// No goroutine per partition. A clean Open opens no file; the active
// segment's files are opened by the first append or read. A closed
// segment's files are opened when first read and closed when its last
// reader is done, except the most recently used one per log, kept open for
// sequential consumers. Index memory does not grow with the index: lookups
// binary-search the file with ReadAt, and a log keeps a few dozen bytes per
// segment in memory.
package log
