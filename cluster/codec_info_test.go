package cluster

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodePageIntoScratch checks that decoding into a reused scratch
// slice (the view's pooled pages) gives what a fresh decode gives, and
// that the scratch's earlier content never shows through.
func TestDecodePageIntoScratch(t *testing.T) {
	full := ProcessInfo{PID: PID{Node: "b", ID: 9}, Node: "b", Name: "x", Registered: []string{"svc"}, Behavior: "echo", Status: StatusRunnable,
		Mailbox: 3, StartedAt: time.Unix(0, 1234567890123), Links: []PID{{Node: "a", ID: 1}}, TrapExits: true, Labels: map[string]string{"k": "v"}}
	bare := ProcessInfo{PID: PID{Node: "a", ID: 1}, Node: "a", StartedAt: time.Unix(0, 0)}
	enc := encodePage(ProcessPage{Total: 5, Processes: []ProcessInfo{bare, bare}, more: true})
	want, err := decodePage(enc)
	require.NoError(t, err)

	tests := []struct {
		name    string
		scratch []ProcessInfo
	}{
		{"nil", nil},
		{"dirty, large enough", []ProcessInfo{full, full, full}},
		{"dirty, too small", []ProcessInfo{full}},
		{"dirty, empty with capacity", []ProcessInfo{full, full}[:0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePageInto(enc, tt.scratch)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			if cap(tt.scratch) >= 2 {
				assert.Same(t, &tt.scratch[:1][0], &got.Processes[0], "decoded into the scratch")
			}
		})
	}
	_, err = decodePageInto(enc[:len(enc)-1], []ProcessInfo{full, full})
	assert.ErrorIs(t, err, ErrBadFrame)
}

// TestPageBuffersAreReusable checks the recycling of page buffers: a
// buffer given back is reused (emptied) by encodePage and readFrame, and
// a frame read into a dirty pooled buffer has its own bytes only.
func TestPageBuffersAreReusable(t *testing.T) {
	putPageBuffer(bytes.Repeat([]byte{0xee}, 8<<10))
	b := getPageBuffer(16)
	assert.Empty(t, b)
	putPageBuffer(b)
	putPageBuffer(make([]byte, 0, maxPooledPage+1)) // too large: dropped, no panic
	putPageBuffer(nil)

	payload := []byte(strings.Repeat("p", 3<<10))
	for range 3 {
		putPageBuffer(bytes.Repeat([]byte{0xee}, 4<<10))
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		require.NoError(t, writeFrame(w, frame{typ: frameResponse, id: 3, payload: payload}))
		require.NoError(t, w.Flush())
		f, err := readFrame(bufio.NewReader(&buf))
		require.NoError(t, err)
		assert.Equal(t, payload, f.payload)
		assert.Equal(t, uint64(3), f.id)
		putPageBuffer(f.payload)
	}

	page := ProcessPage{Total: 1, Processes: []ProcessInfo{{PID: PID{Node: "a", ID: 1}, Node: "a", StartedAt: time.Unix(0, 5)}}}
	first := encodePage(page)
	want := append([]byte(nil), first...)
	putPageBuffer(first)
	assert.Equal(t, want, encodePage(page), "a reused buffer encodes the same page")
}
