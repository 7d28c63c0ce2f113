// Package wire is samsa's Kafka connection layer: framing, request headers,
// version negotiation, the per-connection loop (pipelined requests, responses
// in order) and size limits. It does not know what a request means: the
// broker plugs in a Handler and declares, in a Registry, the versions it
// serves per API key.
//
// # Wire format
//
//	request  := size int32 | header | body            (size = len(header|body))
//	header   := api_key int16 | api_version int16 | correlation_id int32
//	            | client_id nullable_string            (header v1; v0 only for ControlledShutdown v0)
//	            | tagged_fields                         (header v2: when the body version is flexible, KIP-482)
//	response := size int32 | correlation_id int32
//	            | tagged_fields                         (header v1: flexible body version, never for ApiVersions)
//	            | body
//
// Bodies are decoded and encoded by kmsg only. Bytes after a request body are
// ignored, as Kafka does (kmsg's decoders stop at the end of the body).
//
// # What closes a connection
//
// A size prefix <= 0 or > Config.MaxRequestBytes (nothing is allocated for
// it), a header or body that does not decode, an API key that is not
// registered, a version outside the registered range, a handler error or
// panic, a malformed Response, a failed write, or IdleTimeout without
// traffic. The one exception is ApiVersions at an unsupported version: per
// KIP-511 it is answered with a v0 body carrying UNSUPPORTED_VERSION and every
// registered key, with response header v0, so the client retries at a version
// it finds there. Closing never affects other connections or the server.
//
// # Goroutines and ownership
//
// Server.Serve runs the accept loop on the caller's goroutine. For each
// accepted connection it starts, through Server.goTracked (the only place the
// server's WaitGroup grows), the connection's reader goroutine (conn.run),
// which in turn starts the writer goroutine (conn.writeLoop):
//
//  1. The reader takes a slot (at most Config.MaxInFlight per connection),
//     reads the size prefix, reserves the frame's bytes (at most
//     Config.MaxInFlightBytes per connection), reads the frame, decodes it
//     (reserving its estimated decode memory from the server-wide
//     Config.MaxDecodeMemory) and calls Handler.Handle — one request at a time,
//     in arrival order. The resulting Response goes onto the pending channel,
//     in request order. NoResponse frees the slot at once. When no slot or
//     bytes are free the reader stops reading: TCP pushes back on the client.
//  2. The writer takes responses from pending in order, waits for each one's
//     Ready, encodes it into a pooled buffer (size, header and body in one
//     write; pre-encoded Parts follow in one writev, non-byte Parts write
//     themselves to the net.Conn so files can use sendfile) and writes it,
//     coalescing small responses that are ready back to back. After the write
//     (or when dropping a response) it calls Done and frees the slot and
//     bytes.
//  3. Stopping: any error — in the reader, in the writer, or Server.Close —
//     calls conn.shutdown, which cancels the connection's context (the ctx
//     passed to Handle) and closes the net.Conn, unblocking both goroutines.
//     The reader is the only sender on pending and closes it when it returns;
//     the writer then drops what is left (calling each Done, even if Ready
//     never closed) and returns; the reader waits for it and unregisters the
//     connection. Server.Close waits for all of them.
//
// A panic in either goroutine, in the Handler or in a Response's encoding is
// recovered, logged with its stack, and closes that connection only.
//
// # Memory and CPU
//
// Every length from the network is checked before allocating: the frame size
// against MaxRequestBytes (and the buffer grows as bytes arrive), header
// strings and tagged fields against the bytes left, and body arrays by kmsg
// against the bytes left. Frames are not reused after decoding because []byte
// fields of the decoded body alias them. See amplification.go for the memory
// kmsg may still allocate per frame byte and how it is bounded, and
// tagguard.go for how wire keeps kmsg's tagged-field loop from spinning on a
// forged count (without it a 9-byte body costs 86 s of CPU).
package wire
