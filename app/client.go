package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/operations"
)

// Environment variables that point `clusterlab op` at a server.
const (
	EnvAddr  = "CLUSTERLAB_ADDR"
	EnvToken = "CLUSTERLAB_TOKEN"
)

// maxResponseBytes bounds what the client reads from the server.
const maxResponseBytes = 64 << 20

// Client talks to the HTTP API of a running clusterlab (serve, the desktop
// app or an agent).
type Client struct {
	// BaseURL is the server's root, like http://127.0.0.1:7070.
	BaseURL string
	// Token is the bearer token.
	Token string
	// HTTP is the HTTP client; default one with a 2-minute timeout.
	HTTP *http.Client
}

// APIError is an error answer of the API: its HTTP status and envelope.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Body is the envelope's error.
	Body operations.Error
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Body.Message, e.Body.Code, e.Status)
}

// BaseURL turns an address ("127.0.0.1:7070" or a URL) into a base URL.
func BaseURL(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", fmt.Errorf("app: empty server address")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("app: server address %q: want host:port or an http(s) URL", addr)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// ResolveServer finds the server to talk to: the flags, else the
// CLUSTERLAB_ADDR and CLUSTERLAB_TOKEN environment variables, else the lock
// file in dataDir. It returns a client for it.
func ResolveServer(addr, token, dataDir string) (*Client, error) {
	if addr == "" {
		addr = os.Getenv(EnvAddr)
	}
	if token == "" {
		token = os.Getenv(EnvToken)
	}
	if addr == "" || token == "" {
		if dataDir == "" {
			d, err := DefaultDataDir()
			if err != nil {
				return nil, err
			}
			dataDir = d
		}
		info, err := ReadAnyLock(dataDir)
		if err != nil {
			if addr == "" {
				return nil, fmt.Errorf("%w (start one with `clusterlab serve`, or pass --addr and --token)", err)
			}
		} else {
			if addr == "" {
				addr = info.Addr
			}
			if token == "" {
				token = info.Token
			}
		}
	}
	base, err := BaseURL(addr)
	if err != nil {
		return nil, err
	}
	return &Client{BaseURL: base, Token: token}, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 2 * time.Minute}
}

// do sends a request and decodes a 2xx JSON answer into out, or returns
// an *APIError.
func (c *Client) do(ctx context.Context, method, path string, body any, header http.Header, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("app: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("app: request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("app: %s %s: %w (is `clusterlab serve` running?)", method, c.BaseURL+path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("app: %s %s: reading the answer: %w", method, path, err)
	}
	if len(b) > maxResponseBytes {
		return fmt.Errorf("app: %s %s: the answer is over %d bytes", method, path, maxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		var env struct {
			Error *operations.Error `json:"error"`
		}
		if json.Unmarshal(b, &env) != nil || env.Error == nil || env.Error.Code == "" {
			return &APIError{Status: resp.StatusCode, Body: operations.Error{Code: "http_error", Message: fmt.Sprintf("%s %s: %s", method, path, strings.TrimSpace(clipPath(string(b))))}}
		}
		return &APIError{Status: resp.StatusCode, Body: *env.Error}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("app: %s %s: malformed answer: %w", method, path, err)
	}
	return nil
}

// Catalog fetches the operation catalog.
func (c *Client) Catalog(ctx context.Context) (Catalog, error) {
	var cat Catalog
	err := c.do(ctx, http.MethodGet, APIPrefix+"/operations", nil, nil, &cat)
	return cat, err
}

// Describe fetches one operation's catalog entry.
func (c *Client) Describe(ctx context.Context, name string) (operations.CatalogEntry, error) {
	var e operations.CatalogEntry
	err := c.do(ctx, http.MethodGet, APIPrefix+"/operations/"+url.PathEscape(name), nil, nil, &e)
	return e, err
}

// Run runs an operation with raw parameters (strings are coerced by the
// server) and returns its result as JSON. confirm sends the confirmation
// destructive operations need.
func (c *Client) Run(ctx context.Context, name string, params map[string]any, confirm bool) (json.RawMessage, error) {
	var h http.Header
	if confirm {
		h = http.Header{ConfirmHeader: []string{"true"}}
	}
	if params == nil {
		params = map[string]any{}
	}
	var res struct {
		Result json.RawMessage `json:"result"`
	}
	if err := c.do(ctx, http.MethodPost, APIPrefix+"/operations/"+url.PathEscape(name), params, h, &res); err != nil {
		return nil, err
	}
	return res.Result, nil
}

// IsAPIError reports whether err is an API answer with the code.
func IsAPIError(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Body.Code == code
}
