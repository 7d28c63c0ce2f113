package log

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// recoveryPointFile holds the recovery point: every segment whose base
// offset is below it is durable (fsynced with its indexes), so recovery
// scans only the segments from it on. Format "0\n1\n<offset>\n".
const recoveryPointFile = "recovery-point-offset-checkpoint"

// readRecoveryPoint returns the persisted recovery point, or 0 (scan
// everything) when there is none or it is unreadable.
func readRecoveryPoint(l *Log) int64 {
	b, err := readSmallFile(l.fs, filepath.Join(l.dir, recoveryPointFile))
	if err != nil || b == nil {
		if err != nil {
			l.cfg.Load().Logger.Warn("log: ignoring recovery point", "dir", l.dir, "err", err)
		}
		return 0
	}
	lines, err := checkpointLines(b, 1)
	if err == nil && len(lines) == 1 {
		if v, err := strconv.ParseInt(lines[0][0], 10, 64); err == nil && v >= 0 {
			return v
		}
	}
	l.cfg.Load().Logger.Warn("log: ignoring unreadable recovery point", "dir", l.dir)
	return 0
}

// setRecoveryPoint persists rp (only if it changed). Caller holds flushMu
// or appendMu with no flush running.
func (l *Log) setRecoveryPoint(rp int64) error {
	if l.recoveryPoint.Load() == rp && l.recoveryPointSaved {
		return nil
	}
	if err := writeFileAtomic(l.fs, l.dir, recoveryPointFile, fmt.Appendf(nil, "0\n1\n%d\n", rp)); err != nil {
		return err
	}
	l.recoveryPoint.Store(rp)
	l.recoveryPointSaved = true
	return nil
}

// flushSealed makes every sealed segment durable: it fsyncs, oldest first,
// those at or above the recovery point (a roll leaves the segment it
// closes unsynced) and then advances and persists the recovery point to
// the active segment's base. It runs in the goroutine a roll starts, in the
// group-commit syncer and in Close; flushMu serialises them.
//
// The recovery point never passes a segment that was not fsynced here: if
// one cannot be (truncation has unsealed it, or truncation or Close took
// it out of service while this ran), the recovery point stops at its base
// and the segment is scanned by the next recovery; truncation then sets
// the recovery point itself (under flushMu). Retention removes segments
// under flushMu too, so a segment this run does not see is one whose
// removal the recovery point's own directory fsync makes durable: it
// cannot come back unsynced below the recovery point after a crash.
func (l *Log) flushSealed() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	segs := l.segs.Load().segs
	rp := l.recoveryPoint.Load()
	next := segs[len(segs)-1].base
	for _, s := range segs[:len(segs)-1] {
		if s.base < rp {
			continue
		}
		if !s.sealed.Load() || !s.acquire() {
			next = s.base
			break
		}
		err := s.sync(true)
		s.release()
		if err != nil {
			return err
		}
	}
	if next > rp || !l.recoveryPointSaved {
		return l.setRecoveryPoint(max(next, rp))
	}
	return nil
}

// flushInBackground runs flushSealed in a goroutine owned by the log (Close
// waits for it). A failure makes the log refuse writes.
func (l *Log) flushInBackground() {
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		if err := l.flushSealed(); err != nil && l.checkOpen() == nil {
			l.appendMu.Lock()
			_ = l.failLocked(err)
			l.appendMu.Unlock()
		}
	}()
}

// needsSealedFlush reports whether some sealed segment is not yet durable.
func (l *Log) needsSealedFlush() bool {
	return l.active.Load().base > l.recoveryPoint.Load()
}
