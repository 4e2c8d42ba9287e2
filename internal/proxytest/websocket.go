package proxytest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SeenHeader carries a stub's Seen, as JSON, on its 101 response to a
// WebSocket handshake, which has no body to carry it in.
const SeenHeader = "X-Matrixgen-Stub-Seen"

// webSocketGUID is the constant RFC 6455 appends to the client's key.
const webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WebSocketAccept is the Sec-WebSocket-Accept a server answers a
// handshake's Sec-WebSocket-Key with (RFC 6455, section 4.2.2).
func WebSocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + webSocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// hasToken tells whether a comma-separated header of h lists token, in
// any case, as Connection and Upgrade do.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// handshakeProblem says why the stub refuses a WebSocket handshake, or ""
// when it is one a server accepts (RFC 6455, section 4.2.1).
func handshakeProblem(r *http.Request) string {
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	switch {
	case r.Method != http.MethodGet:
		return "method " + r.Method
	case r.ProtoMajor != 1 || r.ProtoMinor != 1:
		return "protocol " + r.Proto
	case !hasToken(r.Header, "Connection", "upgrade"):
		return fmt.Sprintf("Connection %q lacks upgrade", r.Header.Values("Connection"))
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return fmt.Sprintf("Sec-WebSocket-Version %q", r.Header.Get("Sec-WebSocket-Version"))
	case err != nil || len(key) != 16:
		return fmt.Sprintf("Sec-WebSocket-Key %q is not 16 bytes in base64", r.Header.Get("Sec-WebSocket-Key"))
	}
	return ""
}

// serveWebSocket completes a WebSocket handshake and then sends back
// every byte it receives until the client closes. It echoes raw bytes,
// not frames: proxies tunnel the connection without reading it, so what
// comes back must be exactly what was sent. A handshake it cannot accept
// gets 400 with the reason, so that a proxy that mangled one fails the
// test with a message instead of a hang.
func (s *Stub) serveWebSocket(w http.ResponseWriter, r *http.Request, seen Seen) {
	if problem := handshakeProblem(r); problem != "" {
		http.Error(w, s.Name+": bad WebSocket handshake: "+problem, http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	if !s.track(conn) {
		return
	}
	seenJSON, err := json.Marshal(seen)
	if err != nil {
		return
	}
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s: %s\r\n\r\n",
		WebSocketAccept(r.Header.Get("Sec-WebSocket-Key")), SeenHeader, seenJSON)
	if rw.Flush() != nil {
		return
	}
	// The reader may hold bytes the client sent right after the handshake.
	_, _ = io.Copy(conn, rw.Reader)
}

// track remembers a hijacked connection, which the HTTP server no longer
// closes, so that the stub closes it when the test ends. It is false once
// the stub has stopped.
func (s *Stub) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.tunnels = append(s.tunnels, conn)
	return true
}

// closeTunnels closes every connection the stub took over.
func (s *Stub) closeTunnels() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for _, c := range s.tunnels {
		_ = c.Close()
	}
}

// Handshake is a WebSocket handshake sent through a proxy and its
// response. After a 101 the connection stays open for Echo.
type Handshake struct {
	Key string // the Sec-WebSocket-Key sent
	Answer
	conn net.Conn
	r    *bufio.Reader
}

// WebSocket sends a WebSocket handshake for host and path (the raw
// request target) to the proxy on 127.0.0.1:port, over TLS with SNI and
// only HTTP/1.1 offered when scheme is https, and reads the response. A
// stub's Seen comes from SeenHeader on a 101, or from the body of any
// other answer. The connection closes with the test.
func WebSocket(t testing.TB, scheme, host string, port int, path string) *Handshake {
	t.Helper()
	conn := dial(t, scheme, host, port)
	t.Cleanup(func() { _ = conn.Close() })
	h := &Handshake{Key: webSocketKey(t), conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, h.Key)
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("handshake for %s%s: %v", host, path, err)
	}
	resp, err := http.ReadResponse(h.r, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("handshake for %s%s: no response: %v", host, path, err)
	}
	h.Status, h.Header = resp.StatusCode, resp.Header
	var seen Seen
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if json.Unmarshal([]byte(resp.Header.Get(SeenHeader)), &seen) == nil && seen.Backend != "" {
			h.Seen = &seen
		}
		return h
	}
	h.Body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if json.Unmarshal(h.Body, &seen) == nil && seen.Backend != "" {
		h.Seen = &seen
	}
	return h
}

func dial(t testing.TB, scheme, host string, port int) net.Conn {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if scheme != "https" {
		conn, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	td := &tls.Dialer{NetDialer: dialer, Config: &tls.Config{
		ServerName:         host,
		NextProtos:         []string{"http/1.1"},
		InsecureSkipVerify: true, // self-signed test certificates
	}}
	conn, err := td.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("TLS to %s on %s: %v", host, addr, err)
	}
	return conn
}

func webSocketKey(t testing.TB) string {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// Echo writes data into the open WebSocket and returns as many bytes as
// come back within a few seconds, up to len(data). Writing runs beside
// reading, so that data larger than the buffers on the way cannot stall.
func (h *Handshake) Echo(t testing.TB, data []byte) []byte {
	t.Helper()
	if h.conn == nil || h.Status != http.StatusSwitchingProtocols {
		t.Fatalf("no WebSocket to write to: the handshake got %d", h.Status)
	}
	_ = h.conn.SetDeadline(time.Now().Add(10 * time.Second))
	written := make(chan error, 1)
	go func() {
		_, err := h.conn.Write(data)
		written <- err
	}()
	got := make([]byte, len(data))
	n, err := io.ReadFull(h.r, got)
	if werr := <-written; werr != nil {
		t.Errorf("writing %d bytes: %v", len(data), werr)
	}
	if err != nil {
		t.Logf("reading the echo: %v after %d of %d bytes", err, n, len(data))
	}
	return got[:n]
}

// ClientFrame is one WebSocket text frame from a client, masked as RFC
// 6455 (section 5.3) requires of clients, with the payload length in the
// shortest of its three forms.
func ClientFrame(t testing.TB, payload []byte) []byte {
	t.Helper()
	frame := []byte{0x81} // FIN, text
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xffff:
		frame = append(frame, 0x80|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	mask := make([]byte, 4)
	if _, err := rand.Read(mask); err != nil {
		t.Fatal(err)
	}
	frame = append(frame, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	return frame
}
