package partition

import (
	"sync"
	"sync/atomic"
)

// Wakeup is a parked waiter's doorbell: a partition rings it (a non-blocking
// send on C) when what the waiter parked for moves (see Park, ParkData). One Wakeup may be registered on
// many partitions (a fetch waiting on all the partitions it asked for).
type Wakeup struct {
	C chan struct{}
}

// NewWakeup returns a Wakeup with a one-slot buffer, so a ring between
// registration and select is never lost.
func NewWakeup() *Wakeup { return &Wakeup{C: make(chan struct{}, 1)} }

func (w *Wakeup) ring() {
	select {
	case w.C <- struct{}{}:
	default:
	}
}

// waiterList is the set of Wakeups parked on one partition. Ringing empties
// it: a waiter that still has to wait registers again.
//
// n mirrors len(waiters) so that ringing an empty list (the append path,
// most of the time) takes no lock. A waiter adds itself (n grows) before
// it checks its condition, and a ringer changes the condition before it
// loads n, so one of the two sees the other.
type waiterList struct {
	mu      sync.Mutex
	waiters []*Wakeup
	n       atomic.Int32
}

func (l *waiterList) add(w *Wakeup) {
	l.mu.Lock()
	l.waiters = append(l.waiters, w)
	l.n.Store(int32(len(l.waiters)))
	l.mu.Unlock()
}

func (l *waiterList) ringAll() {
	if l.n.Load() == 0 {
		return
	}
	l.mu.Lock()
	ws := l.waiters
	l.waiters = nil
	l.n.Store(0)
	l.mu.Unlock()
	for _, w := range ws {
		w.ring()
	}
}

// remove drops w (a waiter that finished for another reason), so lists of
// idle partitions do not grow.
func (l *waiterList) remove(w *Wakeup) {
	l.mu.Lock()
	for i, x := range l.waiters {
		if x == w {
			last := len(l.waiters) - 1
			l.waiters[i] = l.waiters[last]
			l.waiters[last] = nil
			l.waiters = l.waiters[:last]
			l.n.Store(int32(last))
			break
		}
	}
	l.mu.Unlock()
}
