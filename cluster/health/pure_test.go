package health

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

func TestPacingNextInterval(t *testing.T) {
	p := Pacing{Base: time.Second, Max: 10 * time.Second, Budget: 0.01, HostBusy: 85}
	tests := []struct {
		name      string
		in        PacingState
		wantNext  time.Duration
		wantPause bool
	}{
		{"cheap and calm stays at base", PacingState{Interval: time.Second, Overhead: 0.001, HostCPU: 20}, time.Second, false},
		{"unknown host CPU is calm", PacingState{Interval: time.Second, Overhead: 0.001, HostCPU: -1}, time.Second, false},
		{"over budget doubles", PacingState{Interval: time.Second, Overhead: 0.02, HostCPU: 20}, 2 * time.Second, true},
		{"busy host doubles", PacingState{Interval: 2 * time.Second, Overhead: 0.001, HostCPU: 95}, 4 * time.Second, true},
		{"capped at max", PacingState{Interval: 8 * time.Second, Overhead: 0.5, HostCPU: 20}, 10 * time.Second, true},
		{"well under budget halves", PacingState{Interval: 8 * time.Second, Overhead: 0.001, HostCPU: 20}, 4 * time.Second, true},
		{"back to base resumes", PacingState{Interval: 2 * time.Second, Overhead: 0.001, HostCPU: 20}, time.Second, false},
		{"between half and full budget holds", PacingState{Interval: 4 * time.Second, Overhead: 0.007, HostCPU: 20}, 4 * time.Second, true},
		{"host just under busy holds", PacingState{Interval: 4 * time.Second, Overhead: 0.001, HostCPU: 80}, 4 * time.Second, true},
	}
	for _, tt := range tests {
		next, pause := p.NextInterval(tt.in)
		assert.Equal(t, tt.wantNext, next, "%s: next", tt.name)
		assert.Equal(t, tt.wantPause, pause, "%s: pause", tt.name)
	}
}

func TestImbalance(t *testing.T) {
	tests := []struct {
		counts map[string]int
		want   float64
	}{
		{nil, 0},
		{map[string]int{"a": 50}, 0},
		{map[string]int{"a": 10, "b": 10, "c": 10}, 1},
		{map[string]int{"a": 30, "b": 0, "c": 0}, 3},
		{map[string]int{"a": 2, "b": 0, "c": 1}, 0}, // mean 1 is under the minimum
		{map[string]int{"a": 0, "b": 0}, 0},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, Imbalance(tt.counts, minMeanForImbalance), 1e-9, "Imbalance(%v)", tt.counts)
	}
}

func TestMergeTimeline(t *testing.T) {
	ev := func(seq uint64, sec int, typ cluster.MemberEventType, member string) cluster.HealthEvent {
		return cluster.HealthEvent{Seq: seq, Type: typ, Member: member, State: cluster.StateDead, Time: t0.Add(time.Duration(sec) * time.Second)}
	}
	got := MergeTimeline(map[string][]cluster.HealthEvent{
		"n2": {ev(1, 2, cluster.MemberDied, "n3"), ev(2, 5, cluster.MemberJoined, "n3")},
		"n1": {ev(1, 1, cluster.MemberSuspected, "n3"), ev(2, 2, cluster.MemberDied, "n3")},
	})
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%d %s %s %s", e.Time.Sub(t0)/time.Second, e.Observer, e.Type, e.Member))
	}
	assert.Equal(t, []string{"1 n1 suspect n3", "2 n1 dead n3", "2 n2 dead n3", "5 n2 join n3"}, lines)

	tl := newTimeline(3)
	tl.add("n1", []cluster.HealthEvent{ev(1, 1, cluster.MemberDied, "n3")}, false, t0)
	tl.add("n1", []cluster.HealthEvent{ev(2, 3, cluster.MemberJoined, "n3")}, true, t0.Add(2*time.Second))
	require.Len(t, tl.entries, 3)
	assert.Equal(t, TypeEventsLost, tl.entries[1].Type)
	assert.True(t, tl.entries[2].Rejoin, "a join after a death is a rejoin")
	tl.add("n2", []cluster.HealthEvent{ev(1, 4, cluster.MemberJoined, "n3")}, false, t0)
	assert.Len(t, tl.entries, 3, "bounded")
	assert.False(t, tl.entries[2].Rejoin, "n2 never saw n3 die")
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	s := &MemoryStore{Max: 2}
	a := Alert{ID: "a", State: AlertRaised, RaisedAt: t0}
	b := Alert{ID: "b", State: AlertRaised, RaisedAt: t0.Add(time.Second)}
	require.NoError(t, s.SaveAlert(ctx, b))
	require.NoError(t, s.SaveAlert(ctx, a))
	a.State = AlertResolved
	require.NoError(t, s.SaveAlert(ctx, a))
	got, err := s.LoadAlerts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "a", got[0].ID, "oldest first")
	assert.Equal(t, AlertResolved, got[0].State, "replaced by ID")
	require.NoError(t, s.SaveAlert(ctx, Alert{ID: "c", State: AlertRaised, RaisedAt: t0.Add(2 * time.Second)}))
	got, _ = s.LoadAlerts(ctx)
	assert.Equal(t, []string{"b", "c"}, []string{got[0].ID, got[1].ID}, "a resolved alert goes first when full")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.Error(t, s.SaveAlert(cctx, a))
}

func TestSuperviseRestartsAfterPanicAndError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var runs atomic.Int32
	var restarts []string
	err := Supervise(ctx, "svc", func(context.Context) error {
		switch runs.Add(1) {
		case 1:
			panic("boom")
		case 2:
			return errors.New("broken")
		}
		return nil
	}, SuperviseOptions{MinBackoff: time.Millisecond, OnRestart: func(name string, err error, n int) {
		restarts = append(restarts, fmt.Sprintf("%s#%d:%v", name, n, errors.Is(err, ErrPanicked)))
	}})
	require.NoError(t, err)
	assert.Equal(t, int32(3), runs.Load())
	assert.Equal(t, []string{"svc#1:true", "svc#2:false"}, restarts)
}

func TestSuperviseStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, "svc", func(context.Context) error { return errors.New("always") }, SuperviseOptions{MinBackoff: time.Hour})
	}()
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Supervise did not return after cancel")
	}
}

func TestConfigValidate(t *testing.T) {
	n, err := cluster.NewNode(cluster.Config{Name: "obs"})
	require.NoError(t, err)
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{Config{}, "Node"},
		{Config{Node: n, Interval: -time.Second}, "Interval"},
		{Config{Node: n, Interval: time.Millisecond}, "Interval"},
		{Config{Node: n, Interval: 2 * time.Second, MaxInterval: time.Second}, "MaxInterval"},
		{Config{Node: n, Budget: 2}, "Budget"},
		{Config{Node: n, HostBusyPercent: 101}, "HostBusyPercent"},
		{Config{Node: n, Rules: []Rule{{Name: "x"}}}, "Rules"},
		{Config{Node: n}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.wantErr)
	}
}
