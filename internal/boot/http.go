package boot

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Web is an HTTP client that reaches every hostname at the host's address,
// as DNS would send a user's browser there, on the port in the URL: the
// published ports, which is what a user meets.
type Web struct {
	client *http.Client
}

func NewWeb(address string) *Web {
	// The certificates are self-signed or Traefik's default: no ACME
	// server is reachable from a test network.
	return newWeb(address, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // see above
}

// NewWebTrusting is NewWeb for servers whose certificates roots signed: it
// verifies them, as a federating server does.
func NewWebTrusting(address string, roots *x509.CertPool) *Web {
	return newWeb(address, &tls.Config{RootCAs: roots})
}

func newWeb(address string, tlsConfig *tls.Config) *Web {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort(address, port))
		},
		TLSClientConfig:   tlsConfig,
		ForceAttemptHTTP2: true,
	}
	return &Web{client: &http.Client{
		Transport: transport,
		// Redirects are what is tested, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Response is what a request got.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("status %d, body %q: %w", r.Status, clip(r.Body), err)
	}
	return nil
}

// Errcode is the Matrix error code of an error body, or "".
func (r *Response) Errcode() string {
	var e struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Errcode
}

func (r *Response) String() string { return fmt.Sprintf("%d %q", r.Status, clip(r.Body)) }

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// Do sends one request; body may be nil. The token, when set, is the
// user's access token.
func (w *Web) Do(ctx context.Context, method, url, token string, body io.Reader, size int64) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Get fetches url.
func (w *Web) Get(ctx context.Context, url string) (*Response, error) {
	return w.Do(ctx, http.MethodGet, url, "", nil, 0)
}

// Login logs a user in with a password and returns the access token.
func (w *Web) Login(ctx context.Context, homeserver, user, password string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, homeserver+"/_matrix/client/v3/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &answer); err != nil || answer.AccessToken == "" {
		return "", fmt.Errorf("login as %s: %d %q", user, resp.StatusCode, clip(b))
	}
	return answer.AccessToken, nil
}

// Eventually retries get until check accepts what it returns or the
// deadline passes; services answer 502 for a while after they start.
func Eventually(ctx context.Context, wait time.Duration, get func() (*Response, error), check func(*Response) bool) (*Response, error) {
	deadline := time.Now().Add(wait)
	for {
		resp, err := get()
		if err == nil && check(resp) {
			return resp, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, err
			}
			return resp, fmt.Errorf("still %s after %s", resp, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// SlowReader yields size bytes at about rate bytes a second, so that an
// upload takes as long as it would on a slow uplink.
type SlowReader struct {
	remaining int64
	rate      int64
	start     time.Time
	sent      int64
}

func NewSlowReader(size, rate int64) *SlowReader {
	return &SlowReader{remaining: size, rate: rate}
}

func (s *SlowReader) Read(p []byte) (int, error) {
	if s.remaining == 0 {
		return 0, io.EOF
	}
	if s.start.IsZero() {
		s.start = time.Now()
	}
	// Sleep until the bytes sent so far are due, then send a tenth of a
	// second's worth.
	due := s.start.Add(time.Duration(float64(s.sent) / float64(s.rate) * float64(time.Second)))
	time.Sleep(time.Until(due))
	n := min(int64(len(p)), s.rate/10, s.remaining)
	for i := range p[:n] {
		p[i] = byte(i)
	}
	s.remaining -= n
	s.sent += n
	return int(n), nil
}
