package health

import (
	"slices"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// TimelineEntry is one membership change as one node saw it: "at Time,
// Observer saw Member become State".
type TimelineEntry struct {
	Time time.Time `json:"time"`
	// Observer is the node that saw the change.
	Observer string `json:"observer"`
	// Member is the node the change is about.
	Member string `json:"member"`
	// Type is the event: join, update, suspect, recovered, dead, left,
	// or events_lost when the observer's bounded log overflowed before
	// the monitor read it.
	Type  string `json:"type"`
	State string `json:"state,omitempty"`
	// Seq orders one observer's events.
	Seq uint64 `json:"seq,omitempty"`
	// Rejoin is set on a join of a member the observer had seen dead or
	// left before.
	Rejoin bool `json:"rejoin,omitempty"`
	// Incarnation is the member's incarnation (its start time in Unix
	// milliseconds) as the observer knew it: a rejoin after a restart
	// shows a larger one.
	Incarnation uint64 `json:"incarnation,omitempty"`
}

// TypeEventsLost marks a gap in one observer's events.
const TypeEventsLost = "events_lost"

// MergeTimeline merges per-observer event lists into one timeline ordered
// by time (ties: observer, then sequence). It is pure.
func MergeTimeline(perObserver map[string][]cluster.HealthEvent) []TimelineEntry {
	var out []TimelineEntry
	for obs, evs := range perObserver {
		for _, e := range evs {
			out = append(out, TimelineEntry{Time: e.Time, Observer: obs, Member: e.Member, Type: string(e.Type), State: e.State, Seq: e.Seq, Incarnation: e.Incarnation})
		}
	}
	sortTimeline(out)
	return out
}

func sortTimeline(t []TimelineEntry) {
	slices.SortStableFunc(t, func(a, b TimelineEntry) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Observer, b.Observer); c != 0 {
			return c
		}
		return compareUint(a.Seq, b.Seq)
	})
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// timeline is the monitor's bounded merged timeline.
type timeline struct {
	max     int
	entries []TimelineEntry
	// down remembers, per (observer, member), that the observer saw the
	// member dead or left, to mark the next join as a rejoin.
	down map[[2]string]bool
}

func newTimeline(max int) *timeline {
	return &timeline{max: max, down: make(map[[2]string]bool)}
}

// add merges one observer's new events.
func (t *timeline) add(observer string, evs []cluster.HealthEvent, lost bool, now time.Time) {
	if lost {
		t.entries = append(t.entries, TimelineEntry{Time: now, Observer: observer, Type: TypeEventsLost})
	}
	for _, e := range evs {
		k := [2]string{observer, e.Member}
		en := TimelineEntry{Time: e.Time, Observer: observer, Member: e.Member, Type: string(e.Type), State: e.State, Seq: e.Seq, Incarnation: e.Incarnation}
		switch e.Type {
		case cluster.MemberDied, cluster.MemberLeft:
			t.down[k] = true
		case cluster.MemberJoined:
			if t.down[k] {
				en.Rejoin = true
				delete(t.down, k)
			}
		}
		t.entries = append(t.entries, en)
	}
	sortTimeline(t.entries)
	if len(t.entries) > t.max {
		t.entries = slices.Delete(t.entries, 0, len(t.entries)-t.max)
	}
	if len(t.down) > 4*t.max {
		clear(t.down)
	}
}
