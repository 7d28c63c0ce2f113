package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tagged-field guard.
//
// kmsg (v1.15.0) reads a tagged-field section of a flexible message as
//
//	for num := b.Uvarint(); num > 0; num-- { key, size := ...; Set(key, b.Span(size)) }
//
// and keeps looping after the input ran out, each turn a no-op costing ~20 ns.
// A 9-byte Metadata v9 body whose tag count is 2^32-1 so spins for ~86 s of
// CPU (measured), and the fuzzer finds such inputs in seconds. Until kmsg
// stops the loop on a bad read, wire proves before decoding that no tag count
// kmsg reads can exceed the bytes left:
//
//  1. A candidate is a position p whose kbin uvarint value exceeds both
//     len(body)-p and 127 (a tag count there could never be satisfied, each
//     field taking >= 2 bytes). Bodies without candidates are decoded
//     directly: every loop is bounded by the body length (or 127).
//  2. Otherwise a shadow copy gets every candidate's first byte set to 0,
//     right to left (so changes never create new candidates), and is decoded:
//     this is safe. If it fails, the request is refused: in flexible versions
//     every length and count is a uvarint, so in a valid body every candidate
//     is inside a value. The one fixed-width structural byte is the int8
//     marker of a nullable struct (DescribeTopicPartitions' Cursor,
//     StreamsGroupHeartbeat): a null marker (0xff) followed by a byte other
//     than 0 can be a candidate, and such a request is refused.
//  3. Each changed byte must be a value in the shadow's decode path: inside a
//     string or []byte (found by where their bytes point, decoding with
//     UnsafeReadFrom), or inside a scalar (found by re-encoding the shadow
//     after flipping its scalars without moving the layout: the bytes that
//     differ are the scalars').
//     Then the real body follows the same path and decoding it is as cheap as
//     decoding the shadow. If not, or if the shadow does not re-encode to its
//     own bytes (a non-canonical encoding), the request is refused.
//
// Known cost: one pass over the body and, when candidates exist, a shadow
// decode and two encodes. Remove this file when kmsg checks b.Ok() in its tag
// loops.

// minCandidate: values up to it are never candidates, so a tag loop may run
// up to this many turns past the end of the input (~2.5 µs). This spares
// bytes that cannot be uvarint lengths anyway, such as the 0xff marker of a
// null nullable struct followed by a zero byte.
const minCandidate = 127

// errUnprovable is wrapped into ErrMalformed when a flexible body cannot be
// shown safe to decode.
var errUnprovable = errors.New("cannot prove the tagged-field counts bounded")

// decodeGuarded decodes rest into body, refusing flexible bodies that could
// make kmsg's tagged-field loop spin.
func decodeGuarded(body kmsg.Request, rest []byte) error {
	if !body.IsFlexible() {
		return body.ReadFrom(rest)
	}
	if body.Key() == 0 && produceTagsBounded(rest, body.GetVersion()) {
		return body.ReadFrom(rest)
	}
	shadowBytes := slices.Clone(rest)
	if !neutralizeCandidates(shadowBytes) {
		return body.ReadFrom(rest)
	}
	shadow := kmsg.RequestForKey(body.Key())
	shadow.SetVersion(body.GetVersion())
	unsafeShadow, ok := shadow.(kmsg.UnsafeReadFrom)
	if !ok {
		return fmt.Errorf("%w: %T has no UnsafeReadFrom", errUnprovable, shadow)
	}
	if err := unsafeShadow.UnsafeReadFrom(shadowBytes); err != nil {
		return err
	}
	if err := changesAreValues(shadow, shadowBytes, rest); err != nil {
		return err
	}
	return body.ReadFrom(rest)
}

// neutralizeCandidates zeroes, right to left, the first byte of every
// position of s whose uvarint (as kbin reads it: 1 to 5 bytes, the fifth at
// most 0x0f) exceeds both the bytes from there to the end and minCandidate.
// Afterwards no position of s has such a uvarint. It reports whether it
// changed anything.
//
// It is the guard's hot loop, over every body byte, and compressed record
// data makes its branches unpredictable, so it is written without them: the
// uvarint at p is computed from the one at p+1 (value, length, last byte,
// whether it ends inside s) with masks.
func neutralizeCandidates(s []byte) bool {
	var (
		val     uint64 // uvarint at p+1 (meaningless when length > 5)
		length  uint64 // its length in bytes
		last    uint64 // its last byte
		ends    uint64 // 1 if it ends inside s
		changed uint64
	)
	n := uint64(len(s))
	for p := len(s) - 1; p >= 0; p-- {
		// Eight bytes without a continuation bit are eight one-byte
		// uvarints (<= 127, never candidates): skip them, leaving the
		// state of the leftmost. Most structured bodies are mostly this.
		if p >= 8 && binary.LittleEndian.Uint64(s[p-7:p+1])&0x8080808080808080 == 0 {
			p -= 7
			c := uint64(s[p])
			val, length, last, ends = c, 1, c, 1
			continue
		}
		c := uint64(s[p])
		cont := c >> 7    // 1 if c is a continuation byte
		contMask := -cont // all ones if so
		val = c&0x7f | (val<<7)&contMask
		length = 1 + length&contMask
		last = last&contMask | c&^contMask
		ends = ends&contMask | (1 - cont)
		// Valid for kbin: ends inside s, at most 5 bytes, a fifth byte <= 0x0f.
		valid := ends & b2u(length <= 5) & (b2u(length < 5) | b2u(last <= 0x0f))
		cand := valid & b2u(val > max(n-uint64(p), minCandidate))
		candMask := -cand
		s[p] = byte(c &^ candMask)
		val &^= candMask
		length = length&^candMask | 1&candMask
		last &^= candMask
		ends |= cand
		changed |= cand
	}
	return changed != 0
}

// b2u converts a bool to 0 or 1 without a branch.
func b2u(b bool) uint64 {
	var u uint64
	if b {
		u = 1
	}
	return u
}

// changesAreValues checks that every byte where shadowBytes differs from
// original is a value (string, bytes or scalar content) in shadow, which was
// decoded from shadowBytes with UnsafeReadFrom.
func changesAreValues(shadow kmsg.Request, shadowBytes, original []byte) error {
	encoded := shadow.AppendTo(nil)
	if len(encoded) > len(shadowBytes) || !bytes.Equal(encoded, shadowBytes[:len(encoded)]) {
		return fmt.Errorf("%w: the body is not in canonical encoding", errUnprovable)
	}
	if !bytes.Equal(shadowBytes[len(encoded):], original[len(encoded):]) {
		return fmt.Errorf("%w: a candidate in trailing bytes", errUnprovable)
	}
	content := aliasedRanges(shadow, shadowBytes)
	var outside []int // changed positions not inside a string or []byte
	pos := 0
	for _, r := range append(content, byteRange{len(encoded), len(encoded)}) {
		for ; pos < min(r.start, len(encoded)); pos++ {
			if shadowBytes[pos] != original[pos] {
				outside = append(outside, pos)
			}
		}
		pos = max(pos, r.end)
	}
	if len(outside) == 0 {
		return nil
	}
	f := flipper{version: shadow.GetVersion(), encodedLen: len(encoded), encode: func() int { return len(shadow.AppendTo(nil)) }}
	f.flipMessage(shadow)
	flipped := shadow.AppendTo(nil)
	if len(flipped) != len(encoded) {
		return fmt.Errorf("%w: flipping values changed the encoding length", errUnprovable)
	}
	for _, p := range outside {
		if flipped[p] == encoded[p] {
			return fmt.Errorf("%w: byte %d is a length or count", errUnprovable, p)
		}
	}
	return nil
}
