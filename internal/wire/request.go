package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors returned by ParseRequest. The connection loop closes the connection
// on each of them, except ErrUnsupportedVersion for ApiVersions, which is
// answered per KIP-511.
var (
	// ErrMalformed means the header or body could not be decoded.
	ErrMalformed = errors.New("wire: malformed request")
	// ErrUnsupportedKey means the API key is unknown to kmsg or not
	// registered.
	ErrUnsupportedKey = errors.New("wire: unsupported api key")
	// ErrUnsupportedVersion means the key is registered but not at the
	// requested version.
	ErrUnsupportedVersion = errors.New("wire: unsupported api version")
)

// ConnInfo describes the connection a request arrived on. It is shared by
// every request of the connection.
type ConnInfo struct {
	// ID is unique among the connections of one Server.
	ID uint64
	// RemoteAddr and LocalAddr are the connection's endpoints.
	RemoteAddr, LocalAddr net.Addr

	principal atomic.Pointer[string]
}

// Principal returns the authenticated principal, or "" before authentication.
func (c *ConnInfo) Principal() string {
	if p := c.principal.Load(); p != nil {
		return *p
	}
	return ""
}

// SetPrincipal records the principal once authentication succeeded. It is
// safe to call from any goroutine.
func (c *ConnInfo) SetPrincipal(p string) { c.principal.Store(&p) }

// Request is one decoded request.
//
// Body was decoded with kmsg's ReadFrom: strings are copies, but []byte
// fields (record batches, group protocol metadata, SASL bytes) are sub-slices
// of the frame. wire never reuses a frame, so they stay valid for as long as
// they are referenced; a handler that keeps a small []byte for long should
// copy it so it does not pin the whole frame in memory.
type Request struct {
	// Key, Version and CorrelationID come from the request header.
	Key, Version  int16
	CorrelationID int32
	// ClientID is the header's nullable client id.
	ClientID *string
	// Body is the decoded request; its version is set to Version.
	Body kmsg.Request
	// Conn is the connection the request arrived on (nil from ParseRequest).
	Conn *ConnInfo
	// Size is the frame size: the value of the size prefix, i.e. header
	// plus body bytes, excluding the 4-byte prefix itself.
	Size int
	// Received is when the whole frame had been read (zero from
	// ParseRequest).
	Received time.Time

	// frame is the pooled buffer the request was read into, nil if not
	// pooled; see ReleaseFrame.
	frame *[]byte
}

// ReleaseFrame hands the request's frame buffer back for reuse by later
// requests. The decoded Body's []byte fields (record batches, group
// metadata) point into that buffer, so a handler calls it only when neither
// the request nor anything it keeps or returns refers to those bytes any
// more — e.g. Produce, once its batches were appended to the log (which
// copies them). Calling it is optional (an unreleased frame is garbage
// collected as usual) and more than once is harmless.
func (r *Request) ReleaseFrame() {
	if r.frame != nil {
		putFrame(r.frame)
		r.frame = nil
		r.Body = nil
	}
}

// requestHeaderVersion returns the request header version Kafka uses for a
// request: v2 (with tagged fields) for flexible versions, v1 otherwise, and v0
// (no client id) only for ControlledShutdown v0.
func requestHeaderVersion(key, version int16, flexible bool) int {
	switch {
	case key == 7 && version == 0:
		return 0
	case flexible:
		return 2
	default:
		return 1
	}
}

// ParseRequest decodes one frame (the bytes after the 4-byte size prefix):
//
//	request header v0: api_key int16, api_version int16, correlation_id int32
//	request header v1: v0 + client_id nullable string (int16 length, -1 = null)
//	request header v2: v1 + tagged fields (uvarint count, then per field
//	                   uvarint tag, uvarint size, size bytes) — used when the
//	                   body version is flexible (KIP-482)
//	body:              decoded by kmsg for (api_key, api_version)
//
// Trailing bytes after the body are ignored, as Kafka does.
//
// When at least the first 8 bytes are present the returned Request is non-nil
// even on error, so the caller can see the key, version and correlation id.
// Errors wrap ErrMalformed, ErrUnsupportedKey or ErrUnsupportedVersion. For an
// unsupported ApiVersions version nothing after the correlation id is parsed:
// KIP-511 answers it from those fields alone.
func ParseRequest(frame []byte, reg *Registry) (*Request, error) {
	req, body, rest, err := parseHeader(frame, reg)
	if err != nil {
		return req, err
	}
	if err := decodeBody(req, body, rest); err != nil {
		return req, err
	}
	return req, nil
}

// parseHeader parses the request header of frame and checks the key and
// version against reg. On success it returns the request (without Body), an
// empty body of the right type and version, and the body bytes.
func parseHeader(frame []byte, reg *Registry) (*Request, kmsg.Request, []byte, error) {
	if len(frame) < 8 {
		return nil, nil, nil, fmt.Errorf("%w: frame of %d bytes is shorter than a request header", ErrMalformed, len(frame))
	}
	req := &Request{
		Key:           int16(binary.BigEndian.Uint16(frame[0:])),
		Version:       int16(binary.BigEndian.Uint16(frame[2:])),
		CorrelationID: int32(binary.BigEndian.Uint32(frame[4:])),
		Size:          len(frame),
	}
	body := kmsg.RequestForKey(req.Key)
	vr, registered := VersionRange{}, false
	if reg != nil {
		vr, registered = reg.Lookup(req.Key)
	}
	if body == nil || !registered {
		return req, nil, nil, fmt.Errorf("%w: key %d version %d", ErrUnsupportedKey, req.Key, req.Version)
	}
	if !vr.Contains(req.Version) || req.Version > body.MaxVersion() {
		return req, nil, nil, fmt.Errorf("%w: %s v%d (serving v%d..v%d)",
			ErrUnsupportedVersion, kmsg.NameForKey(req.Key), req.Version, vr.Min, vr.Max)
	}
	body.SetVersion(req.Version)
	rest := frame[8:]
	hv := requestHeaderVersion(req.Key, req.Version, body.IsFlexible())
	if hv >= 1 {
		id, n, err := readNullableString(rest)
		if err != nil {
			return req, nil, nil, fmt.Errorf("%w: client id: %w", ErrMalformed, err)
		}
		req.ClientID, rest = id, rest[n:]
	}
	if hv >= 2 {
		n, err := skipTaggedFields(rest)
		if err != nil {
			return req, nil, nil, fmt.Errorf("%w: header tagged fields: %w", ErrMalformed, err)
		}
		rest = rest[n:]
	}
	return req, body, rest, nil
}

// decodeBody decodes rest into body with kmsg and stores it in req. kmsg
// bounds every array length by the bytes that remain before allocating (see
// amplification.go for what that still allows); tagguard.go bounds its
// tagged-field loops.
func decodeBody(req *Request, body kmsg.Request, rest []byte) error {
	if err := decodeGuarded(body, rest); err != nil {
		return fmt.Errorf("%w: %s v%d body: %w", ErrMalformed, kmsg.NameForKey(req.Key), req.Version, err)
	}
	req.Body = body
	return nil
}

// readNullableString reads an int16-length nullable string and returns it
// with the number of bytes consumed.
func readNullableString(b []byte) (*string, int, error) {
	if len(b) < 2 {
		return nil, 0, errors.New("truncated length")
	}
	l := int(int16(binary.BigEndian.Uint16(b)))
	switch {
	case l == -1:
		return nil, 2, nil
	case l < 0:
		return nil, 0, fmt.Errorf("invalid length %d", l)
	case l > len(b)-2:
		return nil, 0, fmt.Errorf("length %d exceeds the %d bytes left", l, len(b)-2)
	}
	s := string(b[2 : 2+l])
	return &s, 2 + l, nil
}

// skipTaggedFields skips a tagged-field section and returns its length. No
// request header tags are defined, so all are ignored. The count is checked
// against the bytes left (each field takes at least two) before looping.
func skipTaggedFields(b []byte) (int, error) {
	count, off, err := readUvarint(b, 0)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	if uint64(count) > uint64(len(b)-off)/2 {
		return 0, fmt.Errorf("count %d exceeds the %d bytes left", count, len(b)-off)
	}
	for i := uint32(0); i < count; i++ {
		if _, off, err = readUvarint(b, off); err != nil {
			return 0, fmt.Errorf("field %d tag: %w", i, err)
		}
		var size uint32
		if size, off, err = readUvarint(b, off); err != nil {
			return 0, fmt.Errorf("field %d size: %w", i, err)
		}
		if uint64(size) > uint64(len(b)-off) {
			return 0, fmt.Errorf("field %d size %d exceeds the %d bytes left", i, size, len(b)-off)
		}
		off += int(size)
	}
	return off, nil
}

// readUvarint reads an unsigned varint of at most 5 bytes (a uint32) at
// b[off:] and returns it with the offset after it.
func readUvarint(b []byte, off int) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if off >= len(b) {
			return 0, 0, errors.New("truncated varint")
		}
		c := b[off]
		off++
		if i == 4 && c > 0x0f {
			return 0, 0, errors.New("varint overflows 32 bits")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, off, nil
		}
	}
	return 0, 0, errors.New("varint overflows 32 bits")
}
