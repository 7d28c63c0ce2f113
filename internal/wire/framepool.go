package wire

import (
	"math/bits"
	"sync"
)

// Frame buffers of common request sizes are pooled by power-of-two size
// class, so that a steady stream of produce requests does not allocate (and
// zero, and garbage-collect) a fresh megabyte per request. Only frames a
// handler released with Request.ReleaseFrame are reused. Frames outside
// [minPooledFrame, maxPooledFrame] are allocated as before, growing as their
// bytes arrive.
const (
	minPooledFrame = 16 << 10
	maxPooledFrame = 8 << 20
)

var framePools [24]sync.Pool // classes up to 1<<23 = maxPooledFrame

// sizeClass is the power of two that holds size bytes.
func sizeClass(size int) int { return bits.Len(uint(size - 1)) }

// getFrame returns a pooled buffer with capacity for size bytes, or nil when
// size is not pooled.
func getFrame(size int) *[]byte {
	if size < minPooledFrame || size > maxPooledFrame {
		return nil
	}
	class := sizeClass(size)
	if b, ok := framePools[class].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 1<<class)
	return &b
}

// putFrame returns a buffer obtained from getFrame.
func putFrame(b *[]byte) {
	class := sizeClass(cap(*b))
	if cap(*b) != 1<<class || class >= len(framePools) {
		return
	}
	*b = (*b)[:cap(*b)]
	framePools[class].Put(b)
}
