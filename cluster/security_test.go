package cluster

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseKey(t *testing.T) {
	k32 := make([]byte, 32)
	k32[0] = 0xfb
	tests := []struct {
		in      string
		wantLen int
		wantErr bool
	}{
		{"", 0, false},
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), 16, false},
		{base64.RawStdEncoding.EncodeToString(make([]byte, 24)), 24, false},
		{base64.URLEncoding.EncodeToString(k32), 32, false},
		{base64.StdEncoding.EncodeToString(make([]byte, 10)), 0, true},
		{"not base64!!", 0, true},
	}
	for _, tt := range tests {
		key, err := ParseKey(tt.in)
		if tt.wantErr {
			assert.Error(t, err, "ParseKey(%q)", tt.in)
			continue
		}
		require.NoError(t, err, "ParseKey(%q)", tt.in)
		assert.Len(t, key, tt.wantLen)
	}
	s, err := NewKey()
	require.NoError(t, err)
	key, err := ParseKey(s)
	require.NoError(t, err)
	assert.Len(t, key, 32)
}

func TestCheckBind(t *testing.T) {
	key := make([]byte, 16)
	tests := []struct {
		bind     string
		key      []byte
		insecure bool
		ok       bool
	}{
		{"127.0.0.1:7946", nil, false, true},
		{"127.0.0.9:0", nil, false, true},
		{"[::1]:7946", nil, false, true},
		{"localhost:7946", nil, false, true},
		{"0.0.0.0:7946", nil, false, false},
		{"192.0.2.10:7946", nil, false, false},
		{"0.0.0.0:7946", key, false, true},
		{"0.0.0.0:7946", nil, true, true},
	}
	for _, tt := range tests {
		err := CheckBind(tt.bind, tt.key, tt.insecure)
		if tt.ok {
			assert.NoError(t, err, "CheckBind(%q)", tt.bind)
		} else {
			assert.ErrorIs(t, err, ErrInsecureBind, "CheckBind(%q)", tt.bind)
		}
	}
}
