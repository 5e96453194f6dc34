package app

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster/health"
	opscript "github.com/clusterlab/clusterlab/operations/script"
)

// TestScriptWatcherSupervised: the script watcher runs under the app's
// supervisor; a panic restarts it with backoff, the operations it loaded
// stay registered across the restart, and a file changed while it was
// down is picked up by the next run.
func TestScriptWatcherSupervised(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "count.star"), []byte(scriptV1), 0o600))
	reg := cloneRegistry(t)
	l, err := opscript.NewLoader(opscript.Config{Dir: dir, Registry: reg, Debounce: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	svc := NewServices(nil, health.SuperviseOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Close(ctx)
	})
	// The watcher's second run panics before it starts: by then the
	// first has loaded count.star; a file added in between must appear
	// once the third run reads the directory again.
	var runs atomic.Int32
	gate := make(chan struct{})
	svc.SetHook(func(name string) {
		if name != "scripts.watcher" {
			return
		}
		if runs.Add(1) == 2 {
			<-gate
			panic("injected watcher crash")
		}
	})
	ctx, stop := context.WithCancel(context.Background())
	first := make(chan struct{})
	svc.Go("scripts.watcher", func(c context.Context) error {
		if runs.Load() == 1 {
			err := l.Run(ctx) // the first run ends when the test says
			close(first)
			if err != nil {
				return err
			}
			return assert.AnError // ended early: the supervisor restarts it
		}
		return l.Run(c)
	}, nil)

	require.Eventually(t, func() bool { _, ok := reg.Get("count_echoes"); return ok }, 10*time.Second, 10*time.Millisecond)
	stop()
	<-first
	require.NoError(t, os.WriteFile(filepath.Join(dir, "more.star"), []byte(`
operation(name = "more_echoes", summary = "More")

def execute(params):
    return {}
`), 0o600))
	close(gate)

	require.Eventually(t, func() bool { _, ok := reg.Get("more_echoes"); return ok }, 10*time.Second, 10*time.Millisecond,
		"the restarted watcher reads the directory again")
	_, ok := reg.Get("count_echoes")
	assert.True(t, ok, "what was loaded before the crash stays registered")
	st := svc.Status()
	require.Len(t, st, 1)
	assert.GreaterOrEqual(t, st[0].Restarts, 2, "restarted after the early end and after the panic")
	assert.Contains(t, st[0].LastError, "injected watcher crash")
	assert.Equal(t, health.ServiceRunning, st[0].State)
}
