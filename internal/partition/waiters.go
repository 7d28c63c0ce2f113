package partition

import "sync"

// Wakeup is a parked waiter's doorbell: a partition rings it (a non-blocking
// send on C) when its high watermark moves. One Wakeup may be registered on
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
type waiterList struct {
	mu      sync.Mutex
	waiters []*Wakeup
}

func (l *waiterList) add(w *Wakeup) {
	l.mu.Lock()
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()
}

func (l *waiterList) ringAll() {
	l.mu.Lock()
	ws := l.waiters
	l.waiters = nil
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
			break
		}
	}
	l.mu.Unlock()
}
