package app

import (
	"encoding/json"
	"sync"
	"time"
)

// Event is one message of the event stream. IDs increase by one per event
// for the life of a Hub, so a client that reconnects with the last ID it
// saw gets exactly what it missed (if the ring buffer still has it).
type Event struct {
	ID    uint64          `json:"id"`
	Topic string          `json:"topic"`
	Time  time.Time       `json:"time"`
	Data  json.RawMessage `json:"data"`
}

// Event topics published by the app itself.
const (
	// TopicMembership is a coalesced snapshot of the members as the
	// observer sees them, with the changes since the previous one.
	TopicMembership = "membership"
	// TopicProcessExits is a coalesced batch of process exits.
	TopicProcessExits = "process.exits"
	// TopicTraces is a coalesced batch of events of the trace sessions
	// the observer started (see TraceEventItem).
	TopicTraces = "traces"
	// TopicTraceEnd says a trace session ended; the payload is its
	// cluster.TraceInfo.
	TopicTraceEnd = "trace.end"
	// TopicOperations says the operation catalog changed (scripts).
	TopicOperations = "operations"
	// TopicResync is sent to a subscriber that resumed from an event the
	// ring buffer no longer holds: it should reload its state.
	TopicResync = "resync"
	// TopicHealth carries the health_status result
	// (builtin.HealthStatus), coalesced: at most one per collection.
	TopicHealth = "health"
	// TopicAlerts carries an AlertEvent on every raise,
	// acknowledgement and resolution of a health alert.
	TopicAlerts = "alerts"
)

// HubConfig tunes a Hub; zero fields take the defaults.
type HubConfig struct {
	// Capacity is how many recent events are kept for resuming; default 1024.
	Capacity int
	// Coalesce is the shortest time between two events of one coalesced
	// topic; default 100 ms.
	Coalesce time.Duration
	// SubscriberBuffer is how many events may wait for a slow subscriber
	// before it is dropped (it then resumes from the ring); default 256.
	SubscriberBuffer int
}

// Hub fans events out to subscribers (the SSE handler, the desktop window)
// and keeps the most recent ones in a ring buffer so that a subscriber can
// resume with Last-Event-ID. Publishing never blocks on a subscriber: one
// that falls SubscriberBuffer events behind is disconnected and resumes.
// Bursts on a topic can be coalesced (Coalesce). All methods are safe for
// concurrent use.
type Hub struct {
	cfg HubConfig

	mu     sync.Mutex
	ring   []Event // circular, len == cap once full
	start  int     // index of the oldest event in ring
	nextID uint64
	subs   map[*Subscription]struct{}
	co     map[string]*coalesced
	closed bool
}

type coalesced struct {
	last    time.Time
	pending func() any
	timer   *time.Timer
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Capacity <= 0 {
		cfg.Capacity = 1024
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 100 * time.Millisecond
	}
	if cfg.SubscriberBuffer <= 0 {
		cfg.SubscriberBuffer = 256
	}
	return &Hub{cfg: cfg, nextID: 1, subs: map[*Subscription]struct{}{}, co: map[string]*coalesced{}}
}

// Publish sends an event on topic to every subscriber and keeps it for
// resuming. payload is encoded as JSON; a value that does not encode is
// published as {"error": "..."}.
func (h *Hub) Publish(topic string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"error": "unencodable event payload: " + err.Error()})
	}
	h.publishRaw(topic, data)
}

func (h *Hub) publishRaw(topic string, data json.RawMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	ev := Event{ID: h.nextID, Topic: topic, Time: time.Now().UTC(), Data: data}
	h.nextID++
	if len(h.ring) < h.cfg.Capacity {
		h.ring = append(h.ring, ev)
	} else {
		h.ring[h.start] = ev
		h.start = (h.start + 1) % len(h.ring)
	}
	for s := range h.subs {
		if !s.filter(topic) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			// Too slow: cut it loose; it resumes from the ring.
			s.dropped = true
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

// Coalesce publishes on topic the value build returns, at most once per
// HubConfig.Coalesce: the first call after a quiet period publishes at
// once (from a timer goroutine), calls during the following interval
// collapse into one publication at its end, built then with the latest
// build function. build runs without the hub's lock and must not block.
func (h *Hub) Coalesce(topic string, build func() any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	c := h.co[topic]
	if c == nil {
		c = &coalesced{}
		h.co[topic] = c
	}
	c.pending = build
	if c.timer != nil {
		return // a publication is already scheduled; it will use build
	}
	wait := time.Until(c.last.Add(h.cfg.Coalesce))
	c.timer = time.AfterFunc(max(wait, 0), func() { h.flush(topic) })
}

func (h *Hub) flush(topic string) {
	h.mu.Lock()
	c := h.co[topic]
	if c == nil || h.closed {
		h.mu.Unlock()
		return
	}
	build := c.pending
	c.pending, c.timer, c.last = nil, nil, time.Now()
	h.mu.Unlock()
	if build != nil {
		h.Publish(topic, build())
	}
}

// LastID returns the ID of the newest event, 0 before the first.
func (h *Hub) LastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nextID - 1
}

// Subscription receives events from a Hub. Read C until it is closed: it
// closes on Cancel, when the hub closes, or when the subscriber fell too
// far behind (Dropped then reports true).
type Subscription struct {
	// C delivers events in ID order.
	C <-chan Event
	// Backlog holds the events after the requested ID that were already
	// published (in order, older than anything on C). When the request
	// could not be served fully, it starts with a TopicResync event.
	Backlog []Event

	ch      chan Event
	h       *Hub
	topics  map[string]bool
	dropped bool
}

func (s *Subscription) filter(topic string) bool {
	return len(s.topics) == 0 || s.topics[topic]
}

// Dropped reports whether the hub cut the subscription because it fell
// behind. Read it after C is closed.
func (s *Subscription) Dropped() bool {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.dropped
}

// Cancel ends the subscription; C is closed.
func (s *Subscription) Cancel() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if _, ok := s.h.subs[s]; ok {
		delete(s.h.subs, s)
		close(s.ch)
	}
}

// Subscribe returns a subscription to the given topics (all topics when
// none). With resume set, Backlog holds the kept events after afterID;
// if events after afterID were lost (the ring moved past them, or afterID
// is from a previous run of the hub), Backlog starts with a TopicResync
// event. The subscription is closed at once if the hub is closed.
func (h *Hub) Subscribe(afterID uint64, resume bool, topics ...string) *Subscription {
	s := &Subscription{ch: make(chan Event, h.cfg.SubscriberBuffer), h: h}
	s.C = s.ch
	if len(topics) > 0 {
		s.topics = map[string]bool{}
		for _, t := range topics {
			s.topics[t] = true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.ch)
		return s
	}
	if resume {
		last := h.nextID - 1
		oldest := last + 1 // no events: nothing is kept
		if len(h.ring) > 0 {
			oldest = h.ring[h.start].ID
		}
		if afterID > last || afterID+1 < oldest {
			// The resync event carries the ID after which the backlog
			// continues, so IDs stay increasing for the client; after a
			// hub restart that is the newest ID.
			id := oldest - 1
			if afterID > last {
				id = last
			}
			data, _ := json.Marshal(map[string]any{"reason": "events were missed; reload the state", "last_event_id": afterID})
			s.Backlog = append(s.Backlog, Event{ID: id, Topic: TopicResync, Time: time.Now().UTC(), Data: data})
		}
		for i := range h.ring {
			ev := h.ring[(h.start+i)%len(h.ring)]
			if ev.ID > afterID && s.filter(ev.Topic) {
				s.Backlog = append(s.Backlog, ev)
			}
		}
	}
	h.subs[s] = struct{}{}
	return s
}

// Close ends every subscription and stops coalescing timers. Later
// publications are ignored.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		close(s.ch)
	}
	clear(h.subs)
	for _, c := range h.co {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
}
