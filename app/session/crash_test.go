package session

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file re-execute the test binary to get a second
// process: TestHelperWriter and TestHelperHolder do nothing unless the
// environment asks them to.
const (
	helperEnv    = "CLUSTERLAB_SESSION_HELPER"
	helperDirEnv = "CLUSTERLAB_SESSION_HELPER_DIR"
)

// helperCmd starts this test binary as the named helper on dir.
func helperCmd(ctx context.Context, t *testing.T, test, role, dir string) (*exec.Cmd, io.ReadCloser, io.WriteCloser) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, stdout, stdin
}

// payloadFor is the deterministic payload of record i, so a reader can
// tell a complete record from a torn one.
func payloadFor(i int) string {
	return strings.Repeat(string(rune('a'+i%26)), 1500+(i*97)%4000)
}

// traceFor is the deterministic data of the trace saved at iteration i.
func traceFor(i int) json.RawMessage {
	events := make([]int, 2000+(i*31)%3000)
	for k := range events {
		events[k] = i
	}
	b, _ := json.Marshal(map[string]any{"i": i, "events": events})
	return b
}

// TestHelperWriter is the writer process of TestKillDuringWrites: it
// appends history, saves a trace and saves the session in a loop, and
// prints "committed N" after iteration N is fully committed, until it is
// killed.
func TestHelperWriter(t *testing.T) {
	if os.Getenv(helperEnv) != "writer" {
		t.Skip("helper process for TestKillDuringWrites")
	}
	st, err := Open(context.Background(), OpenOptions{DataDir: os.Getenv(helperDirEnv), Timeout: 10 * time.Second, MaxHistory: 1 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(2)
	}
	p := st.Project("crash")
	h, err := p.History(0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(2)
	}
	for i := len(h) + 1; ; i++ {
		if err := p.AppendHistory(OperationRecord{Operation: "spawn", OK: true, Params: map[string]any{"i": i, "payload": payloadFor(i)}}); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		if err := p.SaveTrace("t"+strconv.Itoa(i%5), traceFor(i)); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		s := DefaultSession()
		s.Simulator.Seed = int64(i)
		s.UI.Filters["payload"] = payloadFor(i)[:1000]
		if err := p.SaveSession(s); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", i)
	}
}

// TestKillDuringWrites kills a writer process with SIGKILL in the middle
// of its writes, several times, and checks that the file opens with the
// last committed state: every record complete, as many as the writer
// reported committed (plus at most the one in flight).
func TestKillDuringWrites(t *testing.T) {
	dir := t.TempDir()
	for round, killAfter := range []int{15, 8, 23} {
		t.Run(fmt.Sprintf("round%d", round+1), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd, stdout, _ := helperCmd(ctx, t, "TestHelperWriter", "writer", dir)

			lines := make(chan int, 1024)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
						if v, err := strconv.Atoi(n); err == nil {
							lines <- v
						}
					}
				}
			}()

			// Wait for killAfter more commits, then kill while it writes.
			first, reported := -1, 0
			for reported == 0 || reported-first < killAfter {
				select {
				case n, ok := <-lines:
					require.True(t, ok, "writer exited before it was killed")
					if first < 0 {
						first = n
					}
					reported = n
				case <-ctx.Done():
					t.Fatal("writer made no progress")
				}
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			// Everything it printed before dying is committed.
			for n := range lines {
				reported = n
			}
			err := cmd.Wait()
			require.Error(t, err, "killed")

			st, err := Open(ctx, OpenOptions{DataDir: dir, MaxHistory: 1 << 20})
			require.NoError(t, err, "the file opens after a kill -9")
			defer st.Close()
			p := st.Project("crash")

			h, err := p.History(0)
			require.NoError(t, err, "no damaged record")
			got := len(h)
			assert.True(t, got == reported || got == reported+1, "history has %d records; the writer reported %d committed (one more may have been in flight)", got, reported)
			for k, rec := range h {
				want := got - k // newest first
				require.Equal(t, uint64(want), rec.ID)
				require.EqualValues(t, want, rec.Params["i"], "record %d", want)
				require.Equal(t, payloadFor(want), rec.Params["payload"], "record %d is complete", want)
			}

			s, err := p.Session()
			require.NoError(t, err)
			seed := int(s.Simulator.Seed)
			assert.True(t, seed == got || seed == got-1, "session from iteration %d with %d history records", seed, got)
			assert.Equal(t, payloadFor(seed)[:1000], s.UI.Filters["payload"], "session is complete")

			ts, err := p.Traces()
			require.NoError(t, err)
			require.NotEmpty(t, ts)
			for _, tr := range ts {
				var v struct {
					I      int   `json:"i"`
					Events []int `json:"events"`
				}
				require.NoError(t, json.Unmarshal(tr.Data, &v), "trace %s decodes", tr.Name)
				assert.JSONEq(t, string(traceFor(v.I)), string(tr.Data), "trace %s is complete", tr.Name)
				assert.Equal(t, "t"+strconv.Itoa(v.I%5), tr.Name)
			}
			t.Logf("killed after %d reported commits; read back %d records, session %d, %d traces", reported, got, seed, len(ts))
		})
	}
}

// TestHelperHolder is the holder process of
// TestSecondOpenOtherProcessNamesPID: it opens the store, prints "ready"
// and holds it until its stdin closes.
func TestHelperHolder(t *testing.T) {
	if os.Getenv(helperEnv) != "holder" {
		t.Skip("helper process for TestSecondOpenOtherProcessNamesPID")
	}
	st, err := Open(context.Background(), OpenOptions{DataDir: os.Getenv(helperDirEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = st.Close()
}

// TestSecondOpenOtherProcessNamesPID: another clusterlab holds the store;
// Open fails fast with ErrLocked naming its pid, and works once it is gone.
func TestSecondOpenOtherProcessNamesPID(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, stdout, stdin := helperCmd(ctx, t, "TestHelperHolder", "holder", dir)

	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "holder exited before it was ready")
	case <-ctx.Done():
		t.Fatal("holder never got ready")
	}

	began := time.Now()
	_, err := Open(ctx, OpenOptions{DataDir: dir, Timeout: 300 * time.Millisecond})
	t.Logf("Open while another process holds the store: %v after %v", err, time.Since(began))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLocked)
	var le *LockedError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, cmd.Process.Pid, le.PID)
	assert.Contains(t, err.Error(), fmt.Sprintf("(pid %d)", cmd.Process.Pid))

	require.NoError(t, stdin.Close())
	for range ready { // until the holder's stdout closes
	}
	require.NoError(t, cmd.Wait())
	st, err := Open(ctx, OpenOptions{DataDir: dir, Timeout: 5 * time.Second})
	require.NoError(t, err)
	require.NoError(t, st.Close())
}
