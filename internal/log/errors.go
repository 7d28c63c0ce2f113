package log

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with detail; test with errors.Is.
var (
	// ErrCorruptBatch means a record batch handed to Append, AppendReplicated
	// or ValidateBatch is malformed (lengths, magic, CRC, offsets, count).
	// Nothing was written.
	ErrCorruptBatch = errors.New("log: corrupt record batch")
	// ErrBatchTooLarge means a batch is larger than Config.MaxBatchBytes.
	// Nothing was written.
	ErrBatchTooLarge = errors.New("log: record batch too large")
	// ErrOffsetOutOfRange means an offset is below the log start offset or
	// above the log end offset.
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrOffsetMismatch means a replicated batch does not start at the log
	// end offset, or replicated batches are not contiguous.
	ErrOffsetMismatch = errors.New("log: offset mismatch")
	// ErrCorruptLog means data already on disk is damaged in a place that
	// recovery does not repair (the middle of a sealed segment). The error
	// is a *CorruptionError naming the file and position.
	ErrCorruptLog = errors.New("log: corrupt log")
	// ErrClosed means the log was closed (or deleted).
	ErrClosed = errors.New("log: closed")
)

// CorruptionError describes damaged bytes found in a segment file. It
// unwraps to ErrCorruptLog.
type CorruptionError struct {
	File     string // path of the damaged file
	Position int64  // byte position in File where the damage was found
	Offset   int64  // offset expected at Position, -1 if unknown
	Reason   string // what was wrong
}

// Error implements error.
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("log: corrupt log: %s at position %d (offset %d): %s", e.File, e.Position, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorruptLog) true.
func (e *CorruptionError) Unwrap() error { return ErrCorruptLog }

// IsCorruption reports whether err means damaged data, either in a batch
// offered for append (ErrCorruptBatch) or on disk (ErrCorruptLog).
func IsCorruption(err error) bool {
	return errors.Is(err, ErrCorruptBatch) || errors.Is(err, ErrCorruptLog)
}

func corruptf(file string, pos, offset int64, format string, args ...any) error {
	return &CorruptionError{File: file, Position: pos, Offset: offset, Reason: fmt.Sprintf(format, args...)}
}
