package app

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func recv(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.C:
		require.True(t, ok, "subscription closed")
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return Event{}
}

func ids(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestHubPublishAndResume(t *testing.T) {
	h := NewHub(HubConfig{Capacity: 4})
	defer h.Close()
	live := h.Subscribe(0, false)
	for i := 1; i <= 3; i++ {
		h.Publish("t", i)
	}
	for i := 1; i <= 3; i++ {
		ev := recv(t, live)
		assert.Equal(t, uint64(i), ev.ID)
		assert.Equal(t, "t", ev.Topic)
		assert.JSONEq(t, string(mustJSON(i)), string(ev.Data))
	}
	assert.Equal(t, uint64(3), h.LastID())

	tests := []struct {
		name    string
		publish int // more events before subscribing
		after   uint64
		want    []uint64
		resync  bool
	}{
		{"resume from the middle", 0, 1, []uint64{2, 3}, false},
		{"resume from the newest", 0, 3, []uint64{}, false},
		{"resume from zero with everything kept", 0, 0, []uint64{1, 2, 3}, false},
		{"ring moved past the id", 5, 2, []uint64{4, 5, 6, 7, 8}, true}, // ring keeps 5..8, resync says 4
		{"id from a previous run", 0, 100, []uint64{8}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range tt.publish {
				h.Publish("t", "more")
			}
			s := h.Subscribe(tt.after, true)
			defer s.Cancel()
			got := ids(s.Backlog)
			assert.Equal(t, tt.want, got, "Subscribe(%d) backlog ids", tt.after)
			if tt.resync {
				require.NotEmpty(t, s.Backlog)
				assert.Equal(t, TopicResync, s.Backlog[0].Topic)
			} else {
				for _, ev := range s.Backlog {
					assert.NotEqual(t, TopicResync, ev.Topic)
				}
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestHubTopicsAndSlowSubscribers(t *testing.T) {
	h := NewHub(HubConfig{SubscriberBuffer: 2})
	defer h.Close()
	only := h.Subscribe(0, false, "b")
	slow := h.Subscribe(0, false)
	h.Publish("a", 1)
	h.Publish("b", 2)
	h.Publish("a", 3) // slow has 2 waiting: it is cut loose here
	ev := recv(t, only)
	assert.Equal(t, "b", ev.Topic)
	assert.Equal(t, uint64(2), ev.ID)

	var got []uint64
	for ev := range slow.C {
		got = append(got, ev.ID)
	}
	assert.Equal(t, []uint64{1, 2}, got)
	assert.True(t, slow.Dropped())
	// It resumes from the ring without a gap.
	again := h.Subscribe(2, true)
	assert.Equal(t, []uint64{3}, ids(again.Backlog))
	again.Cancel()
	again.Cancel() // idempotent
}

func TestHubCoalesce(t *testing.T) {
	h := NewHub(HubConfig{Coalesce: 20 * time.Millisecond})
	defer h.Close()
	s := h.Subscribe(0, false)
	n := 0
	for range 100 {
		n++
		v := n
		h.Coalesce("burst", func() any { return v })
	}
	// The burst collapses: the last value arrives, after few events.
	events := 0
	for {
		ev := recv(t, s)
		events++
		if string(ev.Data) == "100" {
			break
		}
	}
	assert.Less(t, events, 10, "100 calls coalesced into %d events", events)
}

func TestHubCoalesceKeepsOnePending(t *testing.T) {
	h := NewHub(HubConfig{Coalesce: time.Hour})
	defer h.Close()
	s := h.Subscribe(0, false)
	h.Coalesce("x", func() any { return 1 })
	assert.Equal(t, "1", string(recv(t, s).Data), "the first call after a quiet time publishes at once")
	calls := 0
	for i := range 50 {
		h.Coalesce("x", func() any { calls++; return i })
	}
	h.mu.Lock()
	c := h.co["x"]
	require.NotNil(t, c.timer, "one publication is scheduled for the end of the interval")
	require.NotNil(t, c.pending)
	h.mu.Unlock()
	assert.Equal(t, 0, calls, "builds run only when the publication happens")
}

func TestHubClose(t *testing.T) {
	h := NewHub(HubConfig{})
	s := h.Subscribe(0, false)
	h.Close()
	_, ok := <-s.C
	assert.False(t, ok)
	h.Publish("t", 1)
	h.Coalesce("t", func() any { return 1 })
	assert.Equal(t, uint64(0), h.LastID())
	late := h.Subscribe(0, true)
	_, ok = <-late.C
	assert.False(t, ok)
	h.Close()
}
