package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// AlertState is where an alert is in its lifecycle:
// raised → acknowledged → resolved (or raised → resolved).
type AlertState string

// Alert states.
const (
	AlertRaised       AlertState = "raised"
	AlertAcknowledged AlertState = "acknowledged"
	AlertResolved     AlertState = "resolved"
)

// Evidence is what an alert was raised on.
type Evidence struct {
	// Values are the recent values that crossed the threshold.
	Values []Sample `json:"values"`
	// Threshold is the rule's threshold (a multiple of Baseline for
	// baseline rules).
	Threshold float64 `json:"threshold"`
	// Baseline is the node's usual value, for baseline rules.
	Baseline float64 `json:"baseline,omitempty"`
	// Detail adds what a number cannot say (a partition's groups).
	Detail string `json:"detail,omitempty"`
}

// Alert is one raised condition with what to do about it.
type Alert struct {
	// ID is unique across restarts: rule, node and raise time.
	ID       string   `json:"id"`
	Rule     string   `json:"rule"`
	Metric   string   `json:"metric"`
	Severity Severity `json:"severity"`
	// Node is the node concerned; empty for cluster-wide alerts.
	Node string `json:"node,omitempty"`
	// Process is the process concerned, if any.
	Process     string     `json:"process,omitempty"`
	Summary     string     `json:"summary"`
	Evidence    Evidence   `json:"evidence"`
	Remediation string     `json:"remediation"`
	State       AlertState `json:"state"`
	RaisedAt    time.Time  `json:"raised_at"`
	AckedAt     time.Time  `json:"acked_at,omitzero"`
	ResolvedAt  time.Time  `json:"resolved_at,omitzero"`
	// Resolution says why the alert resolved.
	Resolution string `json:"resolution,omitempty"`
}

// Active reports whether the alert is not resolved.
func (a Alert) Active() bool { return a.State != AlertResolved }

// AlertStore keeps alert history across restarts. The app implements it
// over the project's bbolt store; MemoryStore is the in-memory one.
// Methods may be called concurrently and must honour ctx.
type AlertStore interface {
	// SaveAlert inserts the alert or replaces the one with the same ID.
	SaveAlert(ctx context.Context, a Alert) error
	// LoadAlerts returns the kept alerts, oldest raise first.
	LoadAlerts(ctx context.Context) ([]Alert, error)
}

// ErrUnknownAlert reports an alert ID the monitor does not know.
var ErrUnknownAlert = errors.New("health: unknown alert")

// MemoryStore is an AlertStore in memory that keeps the newest Max alerts
// (default 1000). It is safe for concurrent use.
type MemoryStore struct {
	// Max bounds the alerts kept; resolved ones are dropped first.
	Max int

	mu     sync.Mutex
	alerts []Alert
}

// SaveAlert implements AlertStore.
func (s *MemoryStore) SaveAlert(ctx context.Context, a Alert) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("health: save alert %s: %w", a.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.alerts, func(x Alert) bool { return x.ID == a.ID }); i >= 0 {
		s.alerts[i] = a
		return nil
	}
	s.alerts = append(s.alerts, a)
	limit := s.Max
	if limit <= 0 {
		limit = 1000
	}
	for len(s.alerts) > limit {
		i := slices.IndexFunc(s.alerts, func(x Alert) bool { return !x.Active() })
		if i < 0 {
			i = 0
		}
		s.alerts = slices.Delete(s.alerts, i, i+1)
	}
	return nil
}

// LoadAlerts implements AlertStore.
func (s *MemoryStore) LoadAlerts(ctx context.Context) ([]Alert, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("health: load alerts: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.alerts)
	slices.SortStableFunc(out, func(a, b Alert) int { return a.RaisedAt.Compare(b.RaisedAt) })
	return out, nil
}

// alertID names an alert uniquely.
func alertID(rule, node string, at time.Time) string {
	if node == "" {
		node = "cluster"
	}
	return fmt.Sprintf("%s/%s/%d", rule, node, at.UnixNano())
}

// newAlert builds the alert of a Raise transition.
func newAlert(t Transition) Alert {
	last := 0.0
	if len(t.Values) > 0 {
		last = t.Values[len(t.Values)-1].Value
	}
	return Alert{
		ID:       alertID(t.Rule.Name, t.Node, t.Time),
		Rule:     t.Rule.Name,
		Metric:   t.Rule.Metric,
		Severity: t.Rule.Severity,
		Node:     t.Node,
		Process:  t.Process,
		Summary:  t.Rule.summary(t.Node, t.Process, last),
		Evidence: Evidence{
			Values:    slices.Clone(t.Values),
			Threshold: t.Rule.Threshold,
			Baseline:  t.Baseline,
			Detail:    t.Detail,
		},
		Remediation: render(t.Rule.Remediation, t.Rule, t.Node, t.Process, last),
		State:       AlertRaised,
		RaisedAt:    t.Time,
	}
}
