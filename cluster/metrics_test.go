package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsModelSource(t *testing.T) {
	ctx := context.Background()
	a, b := NewModelSource(42, nil), NewModelSource(42, nil)
	for i := range 50 {
		ra, err := a.Sample(ctx)
		require.NoError(t, err)
		rb, err := b.Sample(ctx)
		require.NoError(t, err)
		ra.Time, rb.Time = time.Time{}, time.Time{}
		require.Equal(t, ra, rb, "sample %d: the same seed gives the same samples", i)
		require.NoError(t, ra.Validate())
		assert.InDelta(t, modelBaseCPU, ra.CPUPercent, 2.01, "baseline noise is small")
		assert.InDelta(t, modelBaseMem, ra.MemUsedPercent, 2.01)
	}
	c := NewModelSource(43, nil)
	rc, _ := c.Sample(ctx)
	ra, _ := a.Sample(ctx)
	assert.NotEqual(t, ra.CPUPercent, rc.CPUPercent, "another seed differs")

	tests := []struct {
		name    string
		inject  func(m *ModelSource)
		check   func(r Resources) bool
		explain string
	}{
		{"cpu pressure", func(m *ModelSource) { m.SetCPU(95) }, func(r Resources) bool { return r.CPUPercent >= 94.5 && r.CPUPercent <= 95.5 }, "cpu near 95"},
		{"cpu clamped", func(m *ModelSource) { m.SetCPU(150) }, func(r Resources) bool { return r.CPUPercent <= 100 && r.CPUPercent >= 99.5 }, "cpu at most 100"},
		{"memory pressure", func(m *ModelSource) { m.SetMemory(97) }, func(r Resources) bool {
			return r.MemUsedPercent >= 96.5 && r.MemUsed <= r.MemTotal && r.MemUsed > r.MemTotal/10*9
		}, "memory near 97%"},
		{"load", func(m *ModelSource) { m.SetLoad(12) }, func(r Resources) bool { return r.Load1 > 11 && r.Load1 < 13 }, "load near 12"},
		{"reset", func(m *ModelSource) { m.SetCPU(95); m.SetLoad(9); m.Reset() }, func(r Resources) bool { return r.CPUPercent < 20 && r.Load1 < 1 }, "back to baseline"},
		{"negative returns to baseline", func(m *ModelSource) { m.SetCPU(95); m.SetCPU(-1) }, func(r Resources) bool { return r.CPUPercent < 20 }, "baseline"},
		{"NaN load ignored", func(m *ModelSource) { m.SetLoad(math.NaN()) }, func(r Resources) bool { return !math.IsNaN(r.Load1) && r.Load1 < 1 }, "baseline"},
	}
	for _, tt := range tests {
		m := NewModelSource(7, nil)
		tt.inject(m)
		for range 20 {
			r, err := m.Sample(ctx)
			require.NoError(t, err)
			require.NoError(t, r.Validate(), tt.name)
			require.True(t, tt.check(r), "%s: %s, got %+v", tt.name, tt.explain, r)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := a.Sample(cctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestMetricsGopsutilSource(t *testing.T) {
	src, err := NewGopsutilSource()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first, err := src.Sample(ctx)
	require.NoError(t, err)
	second, err := src.Sample(ctx)
	require.NoError(t, err)
	for _, r := range []Resources{first, second} {
		require.NoError(t, r.Validate())
		assert.Positive(t, r.MemTotal)
		assert.Positive(t, r.ProcRSS)
		assert.Positive(t, r.Goroutines)
		assert.False(t, r.Time.IsZero())
	}
}

func TestMetricsResourcesValidate(t *testing.T) {
	ok := Resources{CPUPercent: 10, MemUsedPercent: 50, MemTotal: 100, MemUsed: 50, Load1: 1, ProcCPUPercent: 150, Goroutines: 10}
	tests := []struct {
		name string
		edit func(*Resources)
		bad  string
	}{
		{"valid", func(*Resources) {}, ""},
		{"cpu over 100", func(r *Resources) { r.CPUPercent = 101 }, "cpu_percent"},
		{"negative mem", func(r *Resources) { r.MemUsedPercent = -1 }, "mem_used_percent"},
		{"NaN load", func(r *Resources) { r.Load5 = math.NaN() }, "load5"},
		{"infinite proc cpu", func(r *Resources) { r.ProcCPUPercent = math.Inf(1) }, "proc_cpu_percent"},
		{"used above total", func(r *Resources) { r.MemUsed = 200 }, "mem_used"},
		{"negative goroutines", func(r *Resources) { r.Goroutines = -1 }, "goroutines"},
	}
	for _, tt := range tests {
		r := ok
		tt.edit(&r)
		err := r.Validate()
		if tt.bad == "" {
			assert.NoError(t, err, tt.name)
			continue
		}
		require.ErrorIs(t, err, ErrBadFrame, tt.name)
		assert.Contains(t, err.Error(), tt.bad, tt.name)
	}
}

func TestMetricsSampleNode(t *testing.T) {
	ctx := context.Background()
	bare, err := NewNode(Config{Name: "bare"})
	require.NoError(t, err)
	_, err = SampleNode(ctx, bare)
	assert.ErrorIs(t, err, ErrNoResources)

	fromConfig := NewModelSource(1, nil)
	fromConfig.SetCPU(55)
	n, err := NewNode(Config{Name: "configured", Resources: fromConfig})
	require.NoError(t, err)
	r, err := SampleNode(ctx, n)
	require.NoError(t, err)
	assert.InDelta(t, 55, r.CPUPercent, 0.51, "Config.Resources is used")

	override := NewModelSource(2, nil)
	override.SetCPU(85)
	SetResourceSource(n, override)
	r, err = SampleNode(ctx, n)
	require.NoError(t, err)
	assert.InDelta(t, 85, r.CPUPercent, 0.51, "SetResourceSource overrides Config.Resources")
}

// startMetricsPair starts two real nodes on loopback with the health RPC.
func startMetricsPair(t *testing.T) (*Node, *Node, *ModelSource) {
	t.Helper()
	model := NewModelSource(3, nil)
	var nodes []*Node
	for _, name := range []string{"m1", "m2"} {
		cfg := Config{Name: name, Profile: ProfileLocal, Bind: "127.0.0.1:0"}
		if name == "m2" {
			cfg.Resources = model
		}
		n, err := NewNode(cfg)
		require.NoError(t, err)
		EnableHealthRPC(n)
		require.NoError(t, n.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = n.Stop(ctx)
		})
		nodes = append(nodes, n)
	}
	_, err := nodes[1].Join(context.Background(), []string{nodes[0].Addr()})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return len(nodes[0].AliveMembers()) == 2 && len(nodes[1].AliveMembers()) == 2
	}, 10*time.Second, 10*time.Millisecond)
	return nodes[0], nodes[1], model
}

func TestMetricsHealthRPC(t *testing.T) {
	m1, _, model := startMetricsPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	model.SetCPU(70)

	var s HealthSample
	require.Eventually(t, func() bool {
		var err error
		s, err = RequestHealthSample(ctx, m1, "m2", HealthSampleRequest{})
		require.NoError(t, err)
		return len(s.Events) > 0
	}, 5*time.Second, 10*time.Millisecond, "m2 logged its membership events")
	assert.Equal(t, "m2", s.Node)
	assert.NotEmpty(t, s.Boot)
	require.NotNil(t, s.Resources)
	assert.InDelta(t, 70, s.Resources.CPUPercent, 0.51)
	require.Len(t, s.Members, 2)
	for _, m := range s.Members {
		assert.Equal(t, StateAlive, m.State, m.Name)
	}
	require.NotNil(t, s.Supervised)
	assert.Equal(t, 0, *s.Supervised)
	assert.NotZero(t, s.ViewHash)
	joined := false
	for _, e := range s.Events {
		joined = joined || (e.Type == MemberJoined && e.Member == "m1")
	}
	assert.True(t, joined, "m2 saw m1 join: %+v", s.Events)

	// Incremental: nothing new after the cursor; the unchanged view is
	// left out.
	last := s.Events[len(s.Events)-1].Seq
	again, err := RequestHealthSample(ctx, m1, "m2", HealthSampleRequest{EventsAfter: last, Boot: s.Boot, ViewHash: s.ViewHash})
	require.NoError(t, err)
	assert.Empty(t, again.Events)
	assert.True(t, again.MembersSame)
	assert.Nil(t, again.Members)
	assert.Equal(t, s.ViewHash, again.ViewHash)

	// Another boot (a restarted node): the cursor does not apply.
	other, err := RequestHealthSample(ctx, m1, "m2", HealthSampleRequest{EventsAfter: last, Boot: "older-boot"})
	require.NoError(t, err)
	assert.Len(t, other.Events, len(s.Events))

	quiet, err := RequestHealthSample(ctx, m1, "m2", HealthSampleRequest{NoEvents: true})
	require.NoError(t, err)
	assert.Empty(t, quiet.Events)

	// A node without a resource source says so.
	self, err := RequestHealthSample(ctx, m1, "m1", HealthSampleRequest{})
	require.NoError(t, err)
	assert.Nil(t, self.Resources)
	assert.Contains(t, self.ResourcesError, "no resource source")

	_, err = RequestHealthSample(ctx, m1, "nobody", HealthSampleRequest{})
	assert.Error(t, err)

	// A malformed request is refused.
	_, err = m1.Request(ctx, "m2", MethodHealthSample, []byte("{not json"))
	assert.Equal(t, CodeBadRequest, ErrorCode(err))
}

func TestMetricsEventLogBounded(t *testing.T) {
	n, err := NewNode(Config{Name: "log"})
	require.NoError(t, err)
	h := enableHealth(n)
	for i := range healthEventLog + 10 {
		h.record(MemberEvent{Type: MemberJoined, Member: Member{Name: fmt.Sprintf("x%d", i), State: StateAlive}, Time: time.Now()})
	}
	evs, lost := h.eventsAfter(1)
	assert.True(t, lost, "events 2..11 fell off the log")
	assert.Len(t, evs, MaxHealthEvents)
	assert.Equal(t, uint64(11), evs[0].Seq)
	evs, lost = h.eventsAfter(healthEventLog + 5)
	assert.False(t, lost)
	assert.Len(t, evs, 5)
	assert.Same(t, h, enableHealth(n), "EnableHealthRPC is idempotent")
}

func validSampleJSON() string {
	return `{"node":"n1","boot":"b","time":"2026-01-01T00:00:00Z","resources":{"cpu_percent":5,"mem_used_percent":10,"mem_total":100,"mem_used":10,"goroutines":3},` +
		`"members":[{"name":"n1","state":"alive","since":"2026-01-01T00:00:00Z"}],"view_hash":1,"health_score":0,"processes":2,` +
		`"events":[{"seq":1,"type":"join","member":"n1","state":"alive","time":"2026-01-01T00:00:00Z"}]}`
}

func TestMetricsDecodeHealthSample(t *testing.T) {
	s, err := DecodeHealthSample([]byte(validSampleJSON()))
	require.NoError(t, err)
	assert.Equal(t, "n1", s.Node)
	tests := []struct {
		name string
		from string
		to   string
		bad  string
	}{
		{"not json", `{"node"`, `{"node`, "health sample"},
		{"bad node name", `"node":"n1"`, `"node":"a/b"`, "node"},
		{"unknown member state", `"state":"alive","since"`, `"state":"zombie","since"`, "unknown state"},
		{"bad member name", `{"name":"n1"`, `{"name":""`, "member 0"},
		{"events out of order", `"seq":1`, `"seq":0`, "sequence"},
		{"unknown event type", `"type":"join"`, `"type":"explode"`, "unknown type"},
		{"cpu out of range", `"cpu_percent":5`, `"cpu_percent":500`, "cpu_percent"},
		{"negative processes", `"processes":2`, `"processes":-2`, "negative"},
		{"members with members_same", `"view_hash":1`, `"view_hash":1,"members_same":true`, "members_same"},
		{"negative rtt", `"state":"alive","since"`, `"state":"alive","rtt_ns":-5,"since"`, "rtt"},
	}
	for _, tt := range tests {
		in := strings.Replace(validSampleJSON(), tt.from, tt.to, 1)
		require.NotEqual(t, validSampleJSON(), in, tt.name)
		_, err := DecodeHealthSample([]byte(in))
		require.ErrorIs(t, err, ErrBadFrame, tt.name)
		assert.Contains(t, err.Error(), tt.bad, tt.name)
	}
	_, err = DecodeHealthSample(make([]byte, MaxHealthSampleSize+1))
	assert.ErrorIs(t, err, ErrBadFrame, "oversized")
}

func FuzzHealthSample(f *testing.F) {
	f.Add([]byte(validSampleJSON()))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"node":"x","members":[{"name":"y","state":"dead"}],"events":[{"seq":2},{"seq":1}]}`))
	f.Add([]byte(`{"node":"x","resources":{"cpu_percent":1e309}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeHealthSample(b)
		if err != nil {
			return
		}
		// A sample that decodes re-encodes to one that decodes the same.
		out, err := json.Marshal(s)
		require.NoError(t, err)
		again, err := DecodeHealthSample(out)
		require.NoError(t, err)
		assert.Equal(t, s.Node, again.Node)
		assert.Len(t, again.Members, len(s.Members))
	})
}
