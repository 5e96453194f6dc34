package cluster_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// TestViewProcessesPagesMatchASort checks the per-node selection (cheap
// filters, a heap of the first Limit, the cursor) against a plain sort of
// every snapshot: paging through any query with any page size visits the
// matches once each, in order.
func TestViewProcessesPagesMatchASort(t *testing.T) {
	n := traceNode(t)
	for i := range 60 {
		opts := cluster.SpawnOptions{Labels: map[string]string{"group": fmt.Sprint(i % 3)}}
		if i%4 != 0 {
			opts.Name = fmt.Sprintf("w-%d", i%7) + strings.Repeat("x", i%5) + fmt.Sprint(i)
		}
		var b cluster.Behavior = idle{}
		if i%2 == 0 {
			b = echo{}
		}
		_, err := n.SpawnBehavior(b, opts)
		require.NoError(t, err)
	}
	require.NoError(t, n.Register(context.Background(), "svc-a", n.LocalProcesses()[0].PID))
	all := n.LocalProcesses()
	v := cluster.NewView(n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	keyCmp := map[string]func(a, b cluster.ProcessInfo) int{
		"pid":          func(a, b cluster.ProcessInfo) int { return 0 },
		"node":         func(a, b cluster.ProcessInfo) int { return strings.Compare(a.Node, b.Node) },
		"name":         func(a, b cluster.ProcessInfo) int { return strings.Compare(a.Name, b.Name) },
		"behavior":     func(a, b cluster.ProcessInfo) int { return strings.Compare(a.Behavior, b.Behavior) },
		"status":       func(a, b cluster.ProcessInfo) int { return strings.Compare(a.Status, b.Status) },
		"mailbox":      func(a, b cluster.ProcessInfo) int { return cmp.Compare(a.Mailbox, b.Mailbox) },
		"messages_in":  func(a, b cluster.ProcessInfo) int { return cmp.Compare(a.MessagesIn, b.MessagesIn) },
		"messages_out": func(a, b cluster.ProcessInfo) int { return cmp.Compare(a.MessagesOut, b.MessagesOut) },
		"started_at":   func(a, b cluster.ProcessInfo) int { return a.StartedAt.Compare(b.StartedAt) },
	}
	filters := []struct {
		name  string
		q     cluster.ProcessQuery
		match func(p cluster.ProcessInfo) bool
	}{
		{"none", cluster.ProcessQuery{}, func(cluster.ProcessInfo) bool { return true }},
		{"behavior", cluster.ProcessQuery{Behavior: "echo"}, func(p cluster.ProcessInfo) bool { return p.Behavior == "echo" }},
		{"name", cluster.ProcessQuery{Name: "xx"}, func(p cluster.ProcessInfo) bool { return strings.Contains(p.Name, "xx") }},
		{"registered", cluster.ProcessQuery{Name: "svc"}, func(p cluster.ProcessInfo) bool { return slices.Contains(p.Registered, "svc-a") }},
		{"label", cluster.ProcessQuery{Label: "group=1"}, func(p cluster.ProcessInfo) bool { return p.Labels["group"] == "1" }},
		{"status", cluster.ProcessQuery{Status: cluster.StatusWaiting}, func(p cluster.ProcessInfo) bool { return p.Status == cluster.StatusWaiting }},
	}
	for _, f := range filters {
		for _, field := range cluster.SortFields {
			for _, desc := range []bool{false, true} {
				for _, limit := range []int{1, 7, 20, 200} {
					t.Run(fmt.Sprintf("%s/%s/desc=%t/limit=%d", f.name, field, desc, limit), func(t *testing.T) {
						var want []cluster.PID
						for _, p := range all {
							if f.match(p) {
								want = append(want, p.PID)
							}
						}
						sorted := slices.Clone(all)
						slices.SortFunc(sorted, func(a, b cluster.ProcessInfo) int {
							c := keyCmp[field](a, b)
							if c == 0 {
								c = cmp.Or(strings.Compare(a.PID.Node, b.PID.Node), cmp.Compare(a.PID.ID, b.PID.ID))
							}
							if desc {
								return -c
							}
							return c
						})
						want = want[:0]
						for _, p := range sorted {
							if f.match(p) {
								want = append(want, p.PID)
							}
						}
						q := f.q
						q.Sort, q.Desc, q.Limit = field, desc, limit
						var got []cluster.PID
						for pages := 0; ; pages++ {
							require.Less(t, pages, 100, "paging does not end")
							page, err := v.Processes(ctx, q)
							require.NoError(t, err)
							assert.Equal(t, len(want), page.Total)
							require.LessOrEqual(t, len(page.Processes), limit)
							for _, p := range page.Processes {
								got = append(got, p.PID)
							}
							if page.NextCursor == "" {
								break
							}
							q.Cursor = page.NextCursor
						}
						assert.Equal(t, want, got)
					})
				}
			}
		}
	}
}

// TestViewProcessesCursorWhenOneNodeFillsThePage checks that a page is not
// taken for the last one when a single node holds exactly more than it.
func TestViewProcessesCursorWhenOneNodeFillsThePage(t *testing.T) {
	n := traceNode(t)
	for range 11 {
		_, err := n.SpawnBehavior(idle{}, cluster.SpawnOptions{})
		require.NoError(t, err)
	}
	v := cluster.NewView(n)
	page, err := v.Processes(context.Background(), cluster.ProcessQuery{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, page.Processes, 10)
	assert.NotEmpty(t, page.NextCursor)
	page, err = v.Processes(context.Background(), cluster.ProcessQuery{Limit: 10, Cursor: page.NextCursor})
	require.NoError(t, err)
	assert.Len(t, page.Processes, 1)
	assert.Empty(t, page.NextCursor)
	page, err = v.Processes(context.Background(), cluster.ProcessQuery{Limit: 11})
	require.NoError(t, err)
	assert.Len(t, page.Processes, 11)
	assert.Empty(t, page.NextCursor)
}
