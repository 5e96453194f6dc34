package cluster

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrInsecureBind reports a non-loopback bind without a gossip key.
var ErrInsecureBind = errors.New("cluster: refusing to gossip in clear text beyond loopback")

// ParseKey decodes a gossip encryption key from base64 (standard or URL
// alphabet, padded or not). It must decode to 16, 24 or 32 bytes (AES-128,
// AES-192 or AES-256).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip key is not base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("cluster: gossip key decodes to %d bytes; want 16, 24 or 32 (AES-128/192/256)", len(key))
}

// NewKey returns a fresh random AES-256 gossip key in base64.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cluster: new gossip key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// CheckBind refuses to bind gossip to a non-loopback address without a
// gossip key unless insecure is set: cluster traffic would otherwise be
// readable and forgeable by anyone on the network.
func CheckBind(bind string, key []byte, insecure bool) error {
	if len(key) > 0 || insecure || bind == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		host = bind
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s is not a loopback address; give a gossip key (--key, make one with `clusterlab key`) or pass --insecure", ErrInsecureBind, bind)
}
