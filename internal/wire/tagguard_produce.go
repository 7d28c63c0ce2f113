package wire

// A fast path of the tagged-field guard for Produce, the request that
// carries the bulk of the bytes: instead of the generic proof in tagguard.go
// (a copy of the body, a shadow decode and two encodes — milliseconds for a
// 1 MiB batch), walk the flexible Produce layout (v9+) and check that every
// tag count is bounded by the bytes left, skipping record data by its
// length. It only validates; kmsg still decodes.
//
//	ProduceRequest (v9+) := transactional_id compact_nullable_string
//	                        acks int16 | timeout_ms int32
//	                        topics compact_array of
//	                          name compact_string (v9-v12) | topic_id uuid (v13+)
//	                          partitions compact_array of
//	                            index int32 | records compact_nullable_bytes | tags
//	                          tags
//	                        tags
//	tags := count uvarint | count * (tag uvarint | size uvarint | size bytes)

// produceWalker reads a flexible Produce body, failing on anything that does
// not fit in the bytes left.
type produceWalker struct {
	b   []byte
	bad bool
}

func (w *produceWalker) uvarint() uint64 {
	var v uint64
	for i := 0; i < 5; i++ {
		if len(w.b) == 0 {
			w.bad = true
			return 0
		}
		c := w.b[0]
		w.b = w.b[1:]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
	w.bad = true
	return 0
}

func (w *produceWalker) skip(n uint64) {
	if n > uint64(len(w.b)) {
		w.bad = true
		w.b = nil
		return
	}
	w.b = w.b[n:]
}

// compact skips a compact string/bytes (length+1, 0 = null).
func (w *produceWalker) compact() {
	if n := w.uvarint(); n > 0 {
		w.skip(n - 1)
	}
}

// count reads a compact array length (n+1) or tag count and checks it
// against the bytes left, given the minimum size of one element.
func (w *produceWalker) count(compactArray bool, minElem uint64) uint64 {
	n := w.uvarint()
	if compactArray {
		if n == 0 {
			return 0 // null array
		}
		n--
	}
	if n*minElem > uint64(len(w.b)) {
		w.bad = true
		return 0
	}
	return n
}

func (w *produceWalker) tags() {
	for n := w.count(false, 2); n > 0 && !w.bad; n-- {
		w.uvarint()
		w.skip(w.uvarint())
	}
}

// produceTagsBounded reports whether a flexible Produce body (version >= 9)
// is safe for kmsg to decode: every tag and array count fits in the bytes
// left. A false answer sends the body to the generic guard.
func produceTagsBounded(body []byte, version int16) bool {
	w := &produceWalker{b: body}
	w.compact() // transactional id
	w.skip(6)   // acks, timeout
	for topics := w.count(true, 2); topics > 0 && !w.bad; topics-- {
		if version >= 13 {
			w.skip(16)
		} else {
			w.compact()
		}
		for parts := w.count(true, 6); parts > 0 && !w.bad; parts-- {
			w.skip(4)
			w.compact()
			w.tags()
		}
		w.tags()
	}
	w.tags()
	return !w.bad
}
