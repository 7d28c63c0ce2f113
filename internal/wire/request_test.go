package wire

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frameBuilder writes request frames by hand, to control every header byte.
type frameBuilder []byte

func header(key, version int16, corr int32) frameBuilder {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	return binary.BigEndian.AppendUint32(b, uint32(corr))
}

func (f frameBuilder) str(s string) frameBuilder {
	f = binary.BigEndian.AppendUint16(f, uint16(len(s)))
	return append(f, s...)
}

func (f frameBuilder) i16(v int16) frameBuilder { return binary.BigEndian.AppendUint16(f, uint16(v)) }

func (f frameBuilder) raw(b ...byte) frameBuilder { return append(f, b...) }

func (f frameBuilder) body(r kmsg.Request, version int16) frameBuilder {
	r.SetVersion(version)
	return r.AppendTo(f)
}

func TestParseRequestHeader(t *testing.T) {
	reg := testRegistry()
	reg.Register(7, 0, 3) // ControlledShutdown: v0 uses request header v0

	metaV1 := kmsg.NewPtrMetadataRequest()
	metaV1.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}}

	tests := []struct {
		name     string
		frame    frameBuilder
		wantErr  error
		key      int16
		version  int16
		corr     int32
		clientID *string // checked when wantErr is nil
		check    func(t *testing.T, r *Request)
	}{{
		name:  "v1 header with client id",
		frame: header(18, 0, 7).str("kafka-python").body(kmsg.NewPtrApiVersionsRequest(), 0),
		key:   18, version: 0, corr: 7, clientID: kmsg.StringPtr("kafka-python"),
	}, {
		name:  "v1 header with null client id",
		frame: header(3, 1, 9).i16(-1).body(metaV1, 1),
		key:   3, version: 1, corr: 9,
		check: func(t *testing.T, r *Request) {
			m := r.Body.(*kmsg.MetadataRequest)
			if len(m.Topics) != 1 || *m.Topics[0].Topic != "orders" {
				t.Fatalf("topics %+v", m.Topics)
			}
		},
	}, {
		name:  "v1 header with empty client id",
		frame: header(3, 0, 1).str("").raw(0, 0, 0, 0),
		key:   3, version: 0, corr: 1,
		clientID: kmsg.StringPtr(""),
	}, {
		name:  "v2 header (flexible ApiVersions v3) with no tags",
		frame: header(18, 3, 5).str("franz").raw(0).body(kmsg.NewPtrApiVersionsRequest(), 3),
		key:   18, version: 3, corr: 5, clientID: kmsg.StringPtr("franz"),
	}, {
		name:  "v2 header with two tagged fields skipped",
		frame: header(3, 9, 11).str("c").raw(2, 0, 3, 'a', 'b', 'c', 5, 0).body(kmsg.NewPtrMetadataRequest(), 9),
		key:   3, version: 9, corr: 11, clientID: kmsg.StringPtr("c"),
	}, {
		name:  "header v0 for ControlledShutdown v0 has no client id",
		frame: header(7, 0, 3).raw(0, 0, 0, 42),
		key:   7, version: 0, corr: 3,
		check: func(t *testing.T, r *Request) {
			if id := r.Body.(*kmsg.ControlledShutdownRequest).BrokerID; id != 42 {
				t.Fatalf("broker id %d", id)
			}
		},
	}, {
		name:  "trailing bytes after the body are ignored",
		frame: header(18, 0, 2).str("x").raw(1, 2, 3, 4, 5),
		key:   18, version: 0, corr: 2, clientID: kmsg.StringPtr("x"),
	}, {
		name:    "frame shorter than a header",
		frame:   frameBuilder{0, 18, 0, 0, 0, 0, 0},
		wantErr: ErrMalformed,
	}, {
		name:    "client id length past the end",
		frame:   header(18, 0, 1).raw(0, 10, 'a'),
		wantErr: ErrMalformed, key: 18, corr: 1,
	}, {
		name:    "client id length -2",
		frame:   header(18, 0, 1).i16(-2),
		wantErr: ErrMalformed, key: 18, corr: 1,
	}, {
		name:    "client id length truncated",
		frame:   header(18, 0, 1).raw(0),
		wantErr: ErrMalformed, key: 18, corr: 1,
	}, {
		name:    "tagged field count larger than the bytes left",
		frame:   header(18, 3, 1).i16(-1).raw(0xff, 0xff, 0xff, 0xff, 0x0f),
		wantErr: ErrMalformed, key: 18, version: 3, corr: 1,
	}, {
		name:    "tagged field size past the end",
		frame:   header(18, 3, 1).i16(-1).raw(1, 0, 100, 1, 2),
		wantErr: ErrMalformed, key: 18, version: 3, corr: 1,
	}, {
		name:    "tagged field varint overflowing 32 bits",
		frame:   header(18, 3, 1).i16(-1).raw(1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		wantErr: ErrMalformed, key: 18, version: 3, corr: 1,
	}, {
		name:    "body truncated",
		frame:   header(3, 1, 4).i16(-1).raw(0, 0, 0, 2, 0, 1, 'a'),
		wantErr: ErrMalformed, key: 3, version: 1, corr: 4,
	}, {
		name:    "body claims a billion topics",
		frame:   header(3, 1, 4).i16(-1).raw(0x3b, 0x9a, 0xca, 0x00, 0, 1, 'a'),
		wantErr: ErrMalformed, key: 3, version: 1, corr: 4,
	}, {
		name:    "key unknown to kmsg",
		frame:   header(9999, 0, 6).i16(-1),
		wantErr: ErrUnsupportedKey, key: 9999, corr: 6,
	}, {
		name:    "negative key",
		frame:   header(-1, 0, 6).i16(-1),
		wantErr: ErrUnsupportedKey, key: -1, corr: 6,
	}, {
		name:    "key known to kmsg but not registered",
		frame:   header(1, 4, 6).i16(-1),
		wantErr: ErrUnsupportedKey, key: 1, version: 4, corr: 6,
	}, {
		name:    "version above the registered range",
		frame:   header(3, 13, 6).i16(-1),
		wantErr: ErrUnsupportedVersion, key: 3, version: 13, corr: 6,
	}, {
		name:    "negative version",
		frame:   header(3, -1, 6).i16(-1),
		wantErr: ErrUnsupportedVersion, key: 3, version: -1, corr: 6,
	}, {
		name:    "ApiVersions newer than served: header fields still returned",
		frame:   header(18, 9, 8).raw(0xff), // garbage after the correlation id is not parsed
		wantErr: ErrUnsupportedVersion, key: 18, version: 9, corr: 8,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest(tc.frame, reg)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(tc.frame) < 8 {
				if req != nil {
					t.Fatalf("request %+v from a short frame", req)
				}
				return
			}
			if req.Key != tc.key || req.Version != tc.version || req.CorrelationID != tc.corr {
				t.Fatalf("key/version/corr = %d/%d/%d, want %d/%d/%d",
					req.Key, req.Version, req.CorrelationID, tc.key, tc.version, tc.corr)
			}
			if req.Size != len(tc.frame) {
				t.Fatalf("size %d, want %d", req.Size, len(tc.frame))
			}
			if tc.wantErr != nil {
				if req.Body != nil {
					t.Fatalf("body set despite error")
				}
				return
			}
			if (req.ClientID == nil) != (tc.clientID == nil) || (req.ClientID != nil && *req.ClientID != *tc.clientID) {
				t.Fatalf("client id %v, want %v", req.ClientID, tc.clientID)
			}
			if req.Body == nil || req.Body.Key() != tc.key || req.Body.GetVersion() != tc.version {
				t.Fatalf("body %T", req.Body)
			}
			if tc.check != nil {
				tc.check(t, req)
			}
		})
	}
}

func TestParseRequestNilRegistry(t *testing.T) {
	_, err := ParseRequest(header(18, 0, 1).i16(-1), nil)
	if !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("err = %v, want ErrUnsupportedKey", err)
	}
}

func TestReadUvarint(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    uint32
		wantOff int
		wantErr bool
	}{
		{"zero", []byte{0}, 0, 1, false},
		{"one byte max", []byte{0x7f}, 127, 1, false},
		{"two bytes", []byte{0x80, 0x01}, 128, 2, false},
		{"max uint32", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1<<32 - 1, 5, false},
		{"overflow in fifth byte", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 0, true},
		{"six bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, true},
		{"truncated", []byte{0x80}, 0, 0, true},
		{"empty", nil, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, off, err := readUvarint(tc.in, 0)
			if (err != nil) != tc.wantErr || v != tc.want || off != tc.wantOff {
				t.Fatalf("got %d, %d, %v; want %d, %d, err %v", v, off, err, tc.want, tc.wantOff, tc.wantErr)
			}
		})
	}
}

func TestRequestHeaderVersion(t *testing.T) {
	tests := []struct {
		key, version int16
		flexible     bool
		want         int
	}{
		{7, 0, false, 0},
		{7, 1, false, 1},
		{7, 3, true, 2},
		{18, 0, false, 1},
		{18, 3, true, 2},
		{0, 9, true, 2},
	}
	for _, tc := range tests {
		if got := requestHeaderVersion(tc.key, tc.version, tc.flexible); got != tc.want {
			t.Errorf("requestHeaderVersion(%d, %d, %v) = %d, want %d", tc.key, tc.version, tc.flexible, got, tc.want)
		}
	}
}
