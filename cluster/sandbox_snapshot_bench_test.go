package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// snapshotBenchState builds sandboxes × perSandbox running processes over
// five nodes.
func snapshotBenchState(sandboxes, perSandbox int) []SandboxInfo {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]SandboxInfo, 0, sandboxes)
	id := uint64(0)
	for i := range sandboxes {
		name := fmt.Sprintf("perf-%03d", i)
		r := SandboxInfo{
			Name: name, Spec: SandboxSpec{Name: name, Nodes: nodes, OnNodeLoss: OnNodeLossKeep},
			Nodes: nodes, CreatedBy: nodes[0], CreatedAt: t0, Version: uint64(i + 1),
		}
		for j := range perSandbox {
			id++
			node := nodes[j%len(nodes)]
			r.Processes = append(r.Processes, SandboxProcess{
				PID: PID{Node: node, ID: id}, Node: node, Behavior: "echo",
				StartedAt: t0.Add(time.Duration(j) * time.Microsecond), Status: SandboxProcRunning,
			})
		}
		out = append(out, normalizeSandbox(r))
	}
	return out
}

// benchSandboxes returns an unstarted node's sandbox replica holding rs.
func benchSandboxes(tb testing.TB, name string, rs []SandboxInfo) *sandboxes {
	tb.Helper()
	n, err := NewNode(Config{Name: name, Profile: ProfileSim})
	require.NoError(tb, err)
	SetSandboxesForTest(n, rs)
	return n.sandboxes
}

// exchange is one push/pull between two nodes' replicas: each sends its
// snapshot and merges the other's.
func exchange(tb testing.TB, a, b *sandboxes) int {
	sa, sb := a.Snapshot(), b.Snapshot()
	require.NoError(tb, b.MergeSnapshot(sa))
	require.NoError(tb, a.MergeSnapshot(sb))
	return len(sa) + len(sb)
}

// BenchmarkSandboxSnapshotMerge measures one push/pull exchange of the
// sandbox replica holding 100 sandboxes × 1000 processes: both nodes
// encode their snapshot and merge the other's.
//
//   - idle: both nodes hold the same state (a converged, idle cluster);
//
//   - changed: the sender changed one process before each exchange;
//
//   - cold: the receiver knows nothing yet (a node that joins).
//
//     go test -run '^$' -bench SandboxSnapshotMerge -benchmem ./cluster/
func BenchmarkSandboxSnapshotMerge(b *testing.B) {
	state := snapshotBenchState(100, 1000)
	b.Run("idle", func(b *testing.B) {
		from, to := benchSandboxes(b, "n1", state), benchSandboxes(b, "n2", state)
		for b.Loop() {
			b.SetBytes(int64(exchange(b, from, to)))
		}
	})
	b.Run("changed", func(b *testing.B) {
		from, to := benchSandboxes(b, "n1", state), benchSandboxes(b, "n2", state)
		i := 0
		for b.Loop() {
			b.StopTimer()
			r, _ := from.n.Sandbox("perf-000")
			r.Processes[i%len(r.Processes)].Status = SandboxProcExited
			r.Processes[i%len(r.Processes)].Reason = fmt.Sprintf("r%d", i)
			r.Version += uint64(i + 1000)
			from.merge(r, false)
			i++
			b.StartTimer()
			exchange(b, from, to)
		}
	})
	b.Run("cold", func(b *testing.B) {
		from := benchSandboxes(b, "n1", state)
		for b.Loop() {
			b.StopTimer()
			to := benchSandboxes(b, "n2", nil)
			b.StartTimer()
			exchange(b, from, to)
		}
	})
}

// FuzzSandboxMergeSnapshot feeds arbitrary bytes to a replica's
// MergeSnapshot (the digest checks, the split into records and their
// decoding): it must not panic, and what it accepts leaves a state whose
// own snapshot decodes.
func FuzzSandboxMergeSnapshot(f *testing.F) {
	state := snapshotBenchState(2, 3)
	snap, err := EncodeSandboxSnapshot(state)
	require.NoError(f, err)
	f.Add(snap)
	changed := snapshotBenchState(3, 2)
	changed[0].Processes[0].Status, changed[0].Processes[0].Reason = SandboxProcExited, "x"
	changed[1].Lost = []SandboxLoss{{Node: "n2", PIDs: []PID{changed[1].Processes[1].PID}, Time: changed[1].CreatedAt, RecordedBy: "n1",
		Restarted: []SandboxRestart{{Lost: changed[1].Processes[1].PID, Error: "no"}}}}
	snap, err = EncodeSandboxSnapshot(changed)
	require.NoError(f, err)
	f.Add(snap)
	empty, _ := EncodeSandboxSnapshot(nil)
	f.Add(empty)
	f.Add([]byte{sandboxWireBinary})
	f.Add([]byte("\x01[]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := benchSandboxes(t, "n1", state)
		_ = s.Snapshot()
		if err := s.MergeSnapshot(b); err != nil {
			return
		}
		rs, err := DecodeSandboxSnapshot(s.Snapshot())
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(rs), len(state))
	})
}

// TestSandboxSnapshotSkip checks that a snapshot equal to ours, or merged
// before, is not decoded again, and that a changed one is merged record
// by record.
func TestSandboxSnapshotSkip(t *testing.T) {
	state := snapshotBenchState(3, 10)
	a, b := benchSandboxes(t, "n1", state), benchSandboxes(t, "n2", state)
	exchange(t, a, b)
	require.Zero(t, a.snap.decoded+b.snap.decoded, "identical states decode nothing")
	require.Equal(t, uint64(1), a.snap.skipped)

	r, _ := a.n.Sandbox("perf-001")
	r.Processes[3].Status, r.Processes[3].Reason = SandboxProcExited, "boom"
	r.Version = 99
	require.True(t, a.merge(r, false))
	exchange(t, a, b)
	require.Equal(t, uint64(1), b.snap.decoded, "only the changed record is decoded")
	require.Equal(t, uint64(2), b.snap.rskipped)
	got, ok := b.n.Sandbox("perf-001")
	require.True(t, ok)
	require.Equal(t, SandboxProcExited, got.Processes[3].Status)
	require.Equal(t, a.Snapshot(), b.Snapshot(), "converged replicas encode the same bytes")

	// A snapshot merged before is skipped even when ours differs since.
	old := a.Snapshot()
	c := benchSandboxes(t, "n3", nil)
	require.NoError(t, c.MergeSnapshot(old))
	decoded := c.snap.decoded
	r.Name, r.Spec.Name = "other", "other"
	require.True(t, c.merge(r, false))
	require.NoError(t, c.MergeSnapshot(old))
	require.Equal(t, decoded, c.snap.decoded)

	// A corrupted snapshot is caught by its digest (a snapshot claiming a
	// digest already merged is skipped unread: it is not news).
	bad := slices.Clone(old)
	bad[len(bad)-2] ^= 1
	require.NoError(t, c.MergeSnapshot(bad))
	require.ErrorIs(t, benchSandboxes(t, "n4", nil).MergeSnapshot(bad), ErrBadFrame)
}
