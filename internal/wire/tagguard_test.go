package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// candidateAt reports whether kbin would read a uvarint at p larger than the
// bytes from p to the end (the reference the guard's recurrence must match).
func candidateAt(s []byte, p int) bool {
	v, _, err := readUvarint(s, p)
	return err == nil && uint64(v) > uint64(max(len(s)-p, minCandidate))
}

func TestNeutralizeCandidates(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"empty", nil, nil},
		{"one-byte values are never candidates", []byte{0, 1, 0x7f, 0x7f}, []byte{0, 1, 0x7f, 0x7f}},
		{"tag count 2^32-1", []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{1, 0, 0, 0, 0xff, 0, 0xff, 0, 0x0f}},
		{"count just above 127 and above what is left", []byte{0x80, 0x02, 0}, []byte{0, 0x02, 0}},
		{"null struct marker before a zero byte is spared", []byte{0xff, 0}, []byte{0xff, 0}},
		{"fifth byte above 0x0f is not a uvarint kbin accepts", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, []byte{0xff, 0, 0xff, 0, 0x1f}},
		{"six continuation bytes are invalid", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80}},
		{"two-byte length fitting the body", append([]byte{0x80, 0x01}, make([]byte, 128)...), append([]byte{0x80, 0x01}, make([]byte, 128)...)},
		{"two-byte length past the body", append([]byte{0x82, 0x01}, make([]byte, 127)...), append([]byte{0x00, 0x01}, make([]byte, 127)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := bytes.Clone(tc.in)
			changed := neutralizeCandidates(got)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x, want %x", got, tc.want)
			}
			if changed != !bytes.Equal(tc.in, tc.want) {
				t.Fatalf("changed = %v", changed)
			}
		})
	}
}

// After neutralizing, no position of random input is a candidate, and only
// candidate positions of the input were changed.
func TestNeutralizeCandidatesProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		in := make([]byte, rng.IntN(64))
		for j := range in {
			in[j] = byte(rng.Uint32())
			if rng.IntN(3) == 0 {
				in[j] |= 0x80
			}
		}
		out := bytes.Clone(in)
		neutralizeCandidates(out)
		for p := range out {
			if candidateAt(out, p) {
				t.Fatalf("input %x: candidate left at %d in %x", in, p, out)
			}
			if out[p] != in[p] && out[p] != 0 {
				t.Fatalf("input %x: byte %d changed to %#x", in, p, out[p])
			}
		}
	}
}

// randomFill sets every exported field reachable from v to random values:
// scalars, strings, bytes, and slices of up to three elements.
func randomFill(v reflect.Value, rng *rand.Rand, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch rng.IntN(4) {
		case 0:
			v.SetInt(-1)
		case 1:
			v.SetInt(int64(rng.IntN(300)))
		default:
			v.SetInt(int64(rng.Uint64()))
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(rng.Uint64())
	case reflect.Float64:
		v.SetFloat(rng.Float64())
	case reflect.String:
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		v.SetString(string(b))
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			randomFill(v.Index(i), rng, depth)
		}
	case reflect.Pointer:
		if depth > 0 && rng.IntN(4) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			randomFill(v.Elem(), rng, depth-1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			v.SetBytes(b)
			return
		}
		if depth == 0 {
			return
		}
		n := rng.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			if d, ok := s.Index(i).Addr().Interface().(interface{ Default() }); ok {
				d.Default()
			}
			randomFill(s.Index(i), rng, depth-1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && v.Type().Field(i).Name != "Version" && v.Field(i).CanSet() {
				if rng.IntN(5) > 0 { // leave some fields at their default
					randomFill(v.Field(i), rng, depth)
				}
			}
		}
	}
}

// The guard never refuses a well-formed request: random requests of every
// key and flexible version kmsg knows, full of candidate-looking values,
// decode through ParseRequest to the same encoding as kmsg's own decoder.
func TestGuardAcceptsRandomValidRequests(t *testing.T) {
	reg := fuzzRegistry()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("r"))
	rng := rand.New(rand.NewPCG(5, 6))
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	checked, guarded := 0, 0
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		proto := kmsg.RequestForKey(key)
		if proto == nil || kmsg.NameForKey(key) == "StreamsGroupHeartbeat" {
			// StreamsGroupHeartbeat has nullable structs mid-body: a null
			// marker followed by a non-zero byte is refused (tagguard.go).
			continue
		}
		for version := int16(0); version <= proto.MaxVersion(); version++ {
			proto.SetVersion(version)
			if !proto.IsFlexible() {
				continue
			}
			for round := 0; round < rounds; round++ {
				req := kmsg.RequestForKey(key)
				randomFill(reflect.ValueOf(req).Elem(), rng, 3)
				req.SetVersion(version)
				frame := f.AppendRequest(nil, req, 1)[4:]
				// Only bodies kmsg itself round-trips are well-formed.
				want := kmsg.RequestForKey(key)
				want.SetVersion(version)
				body := frame[len(frame)-len(req.AppendTo(nil)):]
				if err := want.ReadFrom(body); err != nil || !bytes.Equal(want.AppendTo(nil), body) {
					continue
				}
				if neutralizeCandidates(bytes.Clone(body)) {
					guarded++
				}
				checked++
				got, err := ParseRequest(frame, reg)
				if err != nil {
					t.Fatalf("%s v%d: well-formed request refused: %v\nbody %x", kmsg.NameForKey(key), version, err, body)
				}
				if !bytes.Equal(got.Body.AppendTo(nil), body) {
					t.Fatalf("%s v%d: decoded differently from kmsg", kmsg.NameForKey(key), version)
				}
			}
		}
	}
	if checked < 100 || guarded < checked/2 {
		t.Fatalf("only %d requests checked, %d through the guard's slow path", checked, guarded)
	}
	t.Logf("%d well-formed flexible requests decoded, %d through the guard's slow path", checked, guarded)
}

// A huge tag count is refused quickly wherever it sits.
func TestGuardRefusesHugeTagCounts(t *testing.T) {
	reg := fuzzRegistry()
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("a")}, {Topic: kmsg.StringPtr("b")}}
	meta.SetVersion(9)
	body := meta.AppendTo(nil)
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	// Every zero byte of this body is a tag count, an empty string's length
	// or a bool: replace each with the huge count in turn.
	for p := range body {
		if body[p] != 0 {
			continue
		}
		evil := append(append(append([]byte(nil), body[:p]...), huge...), body[p+1:]...)
		frame := append(header(3, 9, 1).i16(-1).raw(0), evil...)
		start := time.Now()
		_, err := ParseRequest(frame, reg)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("huge count at %d: decode took %v", p, d)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("huge count at %d: %v", p, err)
		}
	}
}

// Consumer fetches (ReplicaState and per-partition tags absent) teach the
// guard those fields are tag-gated; a follower fetch (ReplicaState present)
// must still be accepted afterwards.
func TestGuardFetchConsumerThenFollower(t *testing.T) {
	reg := fuzzRegistry()
	f := kmsg.NewRequestFormatter()
	rng := rand.New(rand.NewPCG(9, 10))
	fetch := func(follower bool) []byte {
		req := kmsg.NewPtrFetchRequest()
		req.SessionEpoch = -1
		if follower {
			req.ReplicaState.ID, req.ReplicaState.Epoch = 2, 7
		}
		for i := 0; i < 3; i++ {
			ft := kmsg.NewFetchRequestTopic()
			for j := range ft.TopicID {
				ft.TopicID[j] = byte(rng.Uint32())
			}
			p := kmsg.NewFetchRequestTopicPartition()
			p.FetchOffset, p.PartitionMaxBytes = rng.Int64N(1<<40), 1<<20
			if follower {
				p.HighWatermark = rng.Int64N(1 << 40)
			}
			ft.Partitions = append(ft.Partitions, p)
			req.Topics = append(req.Topics, ft)
		}
		req.SetVersion(17)
		return f.AppendRequest(nil, req, 1)[4:]
	}
	for i, follower := range []bool{false, false, true, true, false} {
		frame := fetch(follower)
		if _, err := ParseRequest(frame, reg); err != nil {
			t.Fatalf("fetch %d (follower %v) refused: %v", i, follower, err)
		}
	}
}
