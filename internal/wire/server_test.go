package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafka-python 2.0 sends ApiVersions v0 and Metadata v0 back to back before
// reading anything.
func TestPipelinedApiVersionsThenMetadata(t *testing.T) {
	s := startServer(t, Config{}, &testHandler{})
	c := dial(t, s.Addr())
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("events")}}
	c.send(append(c.encode(kmsg.NewPtrApiVersionsRequest(), 0, 1), c.encode(meta, 0, 2)...))

	av := kmsg.NewPtrApiVersionsResponse()
	c.readResponse(av, 0, 1)
	if av.ErrorCode != 0 || len(av.ApiKeys) != 3 {
		t.Fatalf("ApiVersions v0: error %d, %d keys", av.ErrorCode, len(av.ApiKeys))
	}
	md := kmsg.NewPtrMetadataResponse()
	c.readResponse(md, 0, 2)
	if len(md.Topics) != 1 || *md.Topics[0].Topic != "events" || len(md.Brokers) != 1 {
		t.Fatalf("Metadata v0 echo: %+v", md)
	}
}

func TestApiVersionsHeaders(t *testing.T) {
	s := startServer(t, Config{}, &testHandler{})
	tests := []struct {
		name        string
		version     int16
		wantVersion int16 // version of the body the server answers with
		wantErr     int16
	}{
		{"v0", 0, 0, 0},
		{"v2", 2, 2, 0},
		{"v3 is flexible but its response header stays v0", 3, 3, 0},
		{"v4", 4, 4, 0},
		{"v5 is newer than registered: KIP-511 fallback", 5, 0, kerr.UnsupportedVersion.Code},
		{"v127 unknown to kmsg: KIP-511 fallback", 127, 0, kerr.UnsupportedVersion.Code},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.Addr())
			corr := int32(100 + i)
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName, req.ClientSoftwareVersion = "samsa-test", "1"
			frame := c.encode(req, min(tc.version, req.MaxVersion()), corr)
			binary.BigEndian.PutUint16(frame[6:], uint16(tc.version)) // force the version in the header
			c.send(frame)

			b, err := c.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if got := int32(binary.BigEndian.Uint32(b)); got != corr {
				t.Fatalf("correlation id %d, want %d", got, corr)
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.SetVersion(tc.wantVersion)
			if err := resp.ReadFrom(b[4:]); err != nil { // header v0: body right after the id
				t.Fatalf("decode body at v%d: %v", tc.wantVersion, err)
			}
			if resp.ErrorCode != tc.wantErr || len(resp.ApiKeys) != 3 {
				t.Fatalf("error %d, %d keys; want error %d, 3 keys", resp.ErrorCode, len(resp.ApiKeys), tc.wantErr)
			}
			if tc.wantErr != 0 {
				if want := 4 + 2 + 4 + 3*6; len(b) != want {
					t.Fatalf("fallback frame is %d bytes, want a v0 body (%d)", len(b), want)
				}
				// The connection stays usable: retry at a supported version.
				c.send(c.encode(kmsg.NewPtrApiVersionsRequest(), 4, corr+1000))
				ok := kmsg.NewPtrApiVersionsResponse()
				c.readResponse(ok, 4, corr+1000)
				if ok.ErrorCode != 0 {
					t.Fatalf("retry: error %d", ok.ErrorCode)
				}
			}
		})
	}
}

func TestFlexibleResponseHeader(t *testing.T) {
	s := startServer(t, Config{}, &testHandler{})
	c := dial(t, s.Addr())
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	for i, v := range []int16{1, 8, 9, 12} {
		c.send(c.encode(req, v, int32(i)))
		resp := kmsg.NewPtrMetadataResponse()
		c.readResponse(resp, v, int32(i)) // checks the header tag byte from v9 on
		if len(resp.Topics) != 1 {
			t.Fatalf("v%d: %d topics", v, len(resp.Topics))
		}
	}
}

// Responses parked behind Ready channels that close in reverse order still go
// out in request order; acks=0 produce requests in between get no answer.
func TestResponsesInRequestOrder(t *testing.T) {
	const n = 20
	var mu sync.Mutex
	var readies []chan struct{}
	var done atomic.Int32
	h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
		if req.Key != 3 {
			return nil, nil, false
		}
		ready := make(chan struct{})
		mu.Lock()
		readies = append(readies, ready)
		mu.Unlock()
		// The test plays purgatory: it closes Ready later, out of order.
		msg := echoMetadata(req.Body.(*kmsg.MetadataRequest), req.Conn.LocalAddr)
		return &Response{Msg: msg, Ready: ready, Done: func() { done.Add(1) }}, nil, true
	}}
	s := startServer(t, Config{}, h)
	c := dial(t, s.Addr())

	var out []byte
	for i := 0; i < n; i++ {
		meta := kmsg.NewPtrMetadataRequest()
		meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(fmt.Sprint("t", i))}}
		out = append(out, c.encode(meta, 1, int32(i))...)
		produce := kmsg.NewPtrProduceRequest()
		produce.Acks = 0
		out = append(out, c.encode(produce, 7, int32(1000+i))...)
	}
	c.send(out)
	waitFor(t, "all requests handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(readies) == n })
	for i := n - 1; i >= 0; i-- {
		close(readies[i])
	}
	for i := 0; i < n; i++ {
		resp := kmsg.NewPtrMetadataResponse()
		c.readResponse(resp, 1, int32(i))
		if got := *resp.Topics[0].Topic; got != fmt.Sprint("t", i) {
			t.Fatalf("response %d carries topic %s", i, got)
		}
	}
	waitFor(t, "Done called for each response", func() bool { return done.Load() == n })
}

// No more than MaxInFlight requests of one connection are handled before
// their responses are written.
func TestMaxInFlight(t *testing.T) {
	const maxInFlight = 4
	var outstanding counter
	release := make(chan struct{})
	h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
		outstanding.add(1)
		ready := make(chan struct{})
		go func() {
			<-release
			close(ready)
		}()
		return &Response{Msg: echoMetadata(req.Body.(*kmsg.MetadataRequest), req.Conn.LocalAddr), Ready: ready,
			Done: func() { outstanding.add(-1) }}, nil, true
	}}
	s := startServer(t, Config{MaxInFlight: maxInFlight}, h)
	c := dial(t, s.Addr())
	var out []byte
	for i := 0; i < 3*maxInFlight; i++ {
		out = append(out, c.encode(kmsg.NewPtrMetadataRequest(), 1, int32(i))...)
	}
	c.send(out)
	waitFor(t, "window filled", func() bool { n, _ := outstanding.get(); return n == maxInFlight })
	close(release)
	for i := 0; i < 3*maxInFlight; i++ {
		c.readResponse(kmsg.NewPtrMetadataResponse(), 1, int32(i))
	}
	if _, peak := outstanding.get(); peak > maxInFlight {
		t.Fatalf("%d requests in flight, limit %d", peak, maxInFlight)
	}
}

// recordingPart is a non-byte Part; it records the writer it was given.
type recordingPart struct {
	data []byte
	got  chan io.Writer
}

func (p *recordingPart) Len() int { return len(p.data) }

func (p *recordingPart) WriteTo(w io.Writer) (int64, error) {
	p.got <- w
	n, err := w.Write(p.data)
	return int64(n), err
}

func TestResponseParts(t *testing.T) {
	// One part per response: the writer may still look at a part after the
	// client read its bytes, so parts are never shared between responses.
	got := make(chan io.Writer, 1)
	h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
		if req.Key != 3 {
			return nil, nil, false
		}
		body := echoMetadata(req.Body.(*kmsg.MetadataRequest), req.Conn.LocalAddr)
		body.SetVersion(req.Version)
		enc := body.AppendTo(nil)
		filePart := &recordingPart{got: got, data: enc[10:]}
		return &Response{Msg: body, Parts: []Part{BytesPart(enc[:3]), BytesPart(nil), BytesPart(enc[3:10]), filePart}}, nil, true
	}}
	s := startServer(t, Config{}, h)
	c := dial(t, s.Addr())
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("parts")}}
	for i, v := range []int16{1, 9} {
		c.send(c.encode(meta, v, int32(i)))
		resp := kmsg.NewPtrMetadataResponse()
		c.readResponse(resp, v, int32(i))
		if *resp.Topics[0].Topic != "parts" {
			t.Fatalf("v%d: topic %v", v, resp.Topics)
		}
		if w := <-got; func() bool { _, ok := w.(*net.TCPConn); return !ok }() {
			t.Fatalf("non-byte part written to %T, want the *net.TCPConn (sendfile path)", w)
		}
	}
}

func TestHandlerErrorsCloseOnlyThatConnection(t *testing.T) {
	tests := []struct {
		name string
		hook func(req *Request) (*Response, error)
	}{
		{"handler error", func(*Request) (*Response, error) { return nil, errors.New("boom") }},
		{"handler panic", func(*Request) (*Response, error) { panic("boom") }},
		{"response without Msg", func(*Request) (*Response, error) { return &Response{}, nil }},
		{"response of another key", func(*Request) (*Response, error) {
			return &Response{Msg: kmsg.NewPtrApiVersionsResponse()}, nil
		}},
		{"typed nil Msg panics in the writer", func(*Request) (*Response, error) {
			return &Response{Msg: (*kmsg.MetadataResponse)(nil)}, nil
		}},
		{"part shorter than announced", func(*Request) (*Response, error) {
			return &Response{Msg: kmsg.NewPtrMetadataResponse(), Parts: []Part{&recordingPart{data: nil, got: make(chan io.Writer, 1)}, shortPart{}}}, nil
		}},
		{"Done panics", func(req *Request) (*Response, error) {
			return &Response{Msg: echoMetadata(req.Body.(*kmsg.MetadataRequest), req.Conn.LocalAddr), Done: func() { panic("done") }}, nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
				if req.Key != 3 {
					return nil, nil, false
				}
				resp, err := tc.hook(req)
				return resp, err, true
			}}
			s := startServer(t, Config{}, h)
			bystander := dial(t, s.Addr())
			c := dial(t, s.Addr())
			c.send(c.encode(kmsg.NewPtrMetadataRequest(), 1, 1))
			c.expectClosed()
			bystander.send(bystander.encode(kmsg.NewPtrApiVersionsRequest(), 0, 9))
			bystander.readResponse(kmsg.NewPtrApiVersionsResponse(), 0, 9)
			checkServes(t, s.Addr())
		})
	}
}

// shortPart announces more bytes than it writes.
type shortPart struct{}

func (shortPart) Len() int { return 10 }
func (shortPart) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write([]byte{1})
	return int64(n), err
}

func TestIdleTimeout(t *testing.T) {
	s := startServer(t, Config{IdleTimeout: 50 * time.Millisecond}, &testHandler{})
	c := dial(t, s.Addr())
	c.send(c.encode(kmsg.NewPtrApiVersionsRequest(), 0, 1))
	c.readResponse(kmsg.NewPtrApiVersionsResponse(), 0, 1)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
}

// A connection waiting for a parked response is not idle.
func TestIdleTimeoutSparesParkedResponses(t *testing.T) {
	ready := make(chan struct{})
	h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
		if req.Key != 3 {
			return nil, nil, false
		}
		return &Response{Msg: echoMetadata(req.Body.(*kmsg.MetadataRequest), req.Conn.LocalAddr), Ready: ready}, nil, true
	}}
	const idle = 30 * time.Millisecond
	s := startServer(t, Config{IdleTimeout: idle}, h)
	c := dial(t, s.Addr())
	c.send(c.encode(kmsg.NewPtrMetadataRequest(), 1, 1))
	// Several idle periods pass while the response is parked.
	timer := time.NewTimer(5 * idle)
	<-timer.C
	close(ready)
	c.readResponse(kmsg.NewPtrMetadataResponse(), 1, 1)
}

// Close drops parked responses, still calling their Done, and waits.
func TestCloseDropsParkedResponses(t *testing.T) {
	var done atomic.Int32
	handled := make(chan struct{}, 1)
	h := &testHandler{hook: func(ctx context.Context, req *Request) (*Response, error, bool) {
		if req.Key != 3 {
			return nil, nil, false
		}
		handled <- struct{}{}
		return &Response{Msg: kmsg.NewPtrMetadataResponse(), Ready: make(chan struct{}), Done: func() { done.Add(1) }}, nil, true
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry()
	h.reg, h.addr = reg, l.Addr
	s := NewServer(Config{Registry: reg, Logger: discardLogger()}, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := dial(t, l.Addr())
	c.send(c.encode(kmsg.NewPtrMetadataRequest(), 1, 1))
	<-handled
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if done.Load() != 1 {
		t.Fatalf("Done called %d times for a dropped response", done.Load())
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	c.expectClosed()
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Serve(l); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}
