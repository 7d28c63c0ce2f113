package wire

import (
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Decode amplification.
//
// kmsg checks every array length against the bytes left before allocating
// (kbin.Reader.ArrayLen: "the min size of a Kafka type is a byte"), so a tiny
// request claiming a billion elements is rejected without allocating. It
// still allocates the whole slice, make([]T, n), before decoding the first
// element, with n bounded only by the bytes left. A frame of B bytes can so
// make kmsg allocate about B × sizeof(T): for Produce, T is
// ProduceRequestTopic (64 bytes), so a 100 MiB frame asks for 6.4 GB.
//
// wire cannot change kmsg, so it bounds how much of that can happen at once:
// before decoding, a frame reserves size × amplification(key) bytes from a
// server-wide budget (Config.MaxDecodeMemory). The estimate is computed once
// per key by walking the kmsg request type with reflection: the largest
// element size of any slice reachable from it ([]byte fields alias the frame
// and cost nothing), with a floor for copied strings and tag maps.

// minAmplification covers what is allocated even without large slice
// elements: copied strings (1 byte per byte) and unknown-tag map entries
// (about 48 bytes per 2-byte tag).
const minAmplification = 24

var amplificationTable = sync.OnceValue(func() []int64 {
	t := make([]int64, kmsg.MaxKey+1)
	for k := range t {
		t[k] = minAmplification
		if req := kmsg.RequestForKey(int16(k)); req != nil {
			size := maxSliceElemSize(reflect.TypeOf(req), map[reflect.Type]bool{})
			t[k] = max(int64(size), minAmplification)
		}
	}
	return t
})

// amplification returns the estimated bytes kmsg may allocate per frame byte
// when decoding a request of key.
func amplification(key int16) int64 {
	t := amplificationTable()
	if key < 0 || int(key) >= len(t) {
		return minAmplification
	}
	return t[key]
}

// maxSliceElemSize returns the largest in-memory element size of any slice
// reachable from t, excluding byte slices.
func maxSliceElemSize(t reflect.Type, seen map[reflect.Type]bool) uintptr {
	if seen[t] {
		return 0
	}
	seen[t] = true
	var m uintptr
	switch t.Kind() {
	case reflect.Pointer, reflect.Array:
		m = maxSliceElemSize(t.Elem(), seen)
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			m = max(t.Elem().Size(), maxSliceElemSize(t.Elem(), seen))
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			m = max(m, maxSliceElemSize(t.Field(i).Type, seen))
		}
	}
	return m
}
