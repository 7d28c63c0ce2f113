package broker

// Zero-copy fetch responses.
//
// The response is encoded by kmsg as usual, except that the record data of
// each partition read with sendfile is replaced by a 16-byte marker (8 random
// bytes of this response + the partition's index). The encoded bytes are then
// cut at the markers: each marker and its length prefix make way for the real
// length prefix and a part that writes the segment bytes straight from the
// file to the socket (sendfile(2) on Linux). kmsg still encodes every field;
// only the length prefix of the replaced field is written here:
//
//	non-flexible (v4-v11):  int32 length      | marker (16 bytes)
//	flexible (v12+):        uvarint(length+1) | marker (16 bytes)
//
// Small reads are copied into the response instead: below
// zeroCopyMinBytes a copy costs less than the extra system calls.

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/wire"
)

// zeroCopyMinBytes is the smallest partition read sent with sendfile.
const zeroCopyMinBytes = 16 << 10

const markerLen = 16

// fetchReads holds the segment references of one fetch response until it is
// written (or dropped). It is safe for the parked-fetch goroutine and the
// connection's writer to race: reads added after release are released at
// once.
type fetchReads struct {
	mu       sync.Mutex
	released bool
	salt     uint64
	reads    []samsalog.ReadResult
}

func newFetchReads() *fetchReads { return &fetchReads{salt: rand.Uint64()} }

// add keeps r for zero-copy sending and returns the marker that stands for
// it in the encoded response.
func (f *fetchReads) add(r samsalog.ReadResult) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		r.Release()
		return nil
	}
	f.reads = append(f.reads, r)
	return f.marker(len(f.reads) - 1)
}

func (f *fetchReads) marker(i int) []byte {
	m := make([]byte, markerLen)
	binary.BigEndian.PutUint64(m, f.salt)
	binary.BigEndian.PutUint64(m[8:], uint64(i))
	return m
}

// releaseAll drops every reference; later adds release at once.
func (f *fetchReads) releaseAll() {
	f.mu.Lock()
	reads := f.reads
	f.reads, f.released = nil, true
	f.mu.Unlock()
	for _, r := range reads {
		r.Release()
	}
}

// discard releases the reads of a build that will not be sent (a parked
// fetch rebuilds later) and forgets them.
func (f *fetchReads) discard() {
	f.mu.Lock()
	reads := f.reads
	f.reads = nil
	f.mu.Unlock()
	for _, r := range reads {
		r.Release()
	}
}

// readPart writes one partition's records from its segment file.
type readPart struct{ r samsalog.ReadResult }

func (p readPart) Len() int                           { return p.r.Len() }
func (p readPart) WriteTo(w io.Writer) (int64, error) { return p.r.WriteTo(w) }

// fill sets out's body: plain kmsg encoding when nothing is zero-copy,
// otherwise the encoding cut into byte and file parts.
func (f *fetchReads) fill(out *wire.Response, resp *kmsg.FetchResponse) {
	out.Msg = resp
	out.Done = f.releaseAll
	f.mu.Lock()
	reads := f.reads
	f.mu.Unlock()
	if len(reads) == 0 {
		return
	}
	enc := resp.AppendTo(nil)
	flexible := resp.IsFlexible()
	parts := make([]wire.Part, 0, 2*len(reads)+1)
	start := 0
	for i, r := range reads {
		m := f.marker(i)
		at := bytes.Index(enc[start:], m)
		if at < 0 {
			panic("broker: fetch marker lost") // kmsg writes every RecordBatches field; recovered by wire
		}
		at += start
		var prefix []byte
		if flexible {
			if enc[at-1] != markerLen+1 {
				panic("broker: fetch marker prefix mismatch")
			}
			prefix = enc[start : at-1]
			prefix = binary.AppendUvarint(prefix[:len(prefix):len(prefix)], uint64(r.Len()+1))
		} else {
			if binary.BigEndian.Uint32(enc[at-4:]) != markerLen {
				panic("broker: fetch marker prefix mismatch")
			}
			prefix = enc[start : at-4]
			prefix = binary.BigEndian.AppendUint32(prefix[:len(prefix):len(prefix)], uint32(r.Len()))
		}
		parts = append(parts, wire.BytesPart(prefix), readPart{r})
		start = at + markerLen
	}
	parts = append(parts, wire.BytesPart(enc[start:]))
	out.Parts = parts
}
