package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Benchmarks of the full HTTP path in-process: an httptest server over a
// real backend (3 virtual nodes and the observer) and a real client with
// keep-alive. Each reports the p50 and p99 request latency in µs.
//
//	go test -run '^$' -bench API ./app/

// benchLatency runs do b.N times and reports latency percentiles.
func benchLatency(b *testing.B, do func(i int) error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := do(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := min(int(float64(len(lat))*p), len(lat)-1)
		return float64(lat[i].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// call sends one request and drains the answer, failing on a non-200.
func benchCall(client *http.Client, method, u string, body []byte, header http.Header) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return err
	}
	req.Header = header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &benchError{resp.StatusCode, string(b)}
	}
	return nil
}

type benchError struct {
	status int
	body   string
}

func (e *benchError) Error() string { return http.StatusText(e.status) + ": " + e.body }

func benchServer(b *testing.B) (*testServer, http.Header) {
	b.Helper()
	be := newBackend(b, BackendConfig{Nodes: 3, Seed: 5})
	s := newServer(b, be)
	h := http.Header{"Authorization": {"Bearer " + testToken}, "Content-Type": {"application/json"}}
	return s, h
}

func BenchmarkAPIListProcesses(b *testing.B) {
	s, h := benchServer(b)
	// 40 more processes per node, so that a page of 100 is full.
	for _, n := range s.b.Sim.Running() {
		if n.Role() != cluster.RoleWorker {
			continue
		}
		for range 40 {
			if _, err := n.Spawn(context.Background(), "", "echo", cluster.SpawnOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	u := s.URL + APIPrefix + "/operations/list_processes"
	body := []byte(`{"limit":100}`)
	benchLatency(b, func(int) error { return benchCall(s.Client(), http.MethodPost, u, body, h) })
}

func BenchmarkAPIKillProcessRemote(b *testing.B) {
	s, h := benchServer(b)
	h.Set(ConfirmHeader, "true")
	node := s.b.Sim.Node("node-2")
	pids := make([]string, b.N)
	for i := range pids {
		pid, err := node.Spawn(context.Background(), "", "echo", cluster.SpawnOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pids[i] = pid.String()
	}
	u := s.URL + APIPrefix + "/operations/kill_process"
	benchLatency(b, func(i int) error {
		return benchCall(s.Client(), http.MethodPost, u, []byte(`{"pid":"`+pids[i]+`"}`), h)
	})
}

func BenchmarkAPIKillProcessDelete(b *testing.B) {
	s, h := benchServer(b)
	node := s.b.Sim.Node("node-3")
	urls := make([]string, b.N)
	for i := range urls {
		pid, err := node.Spawn(context.Background(), "", "echo", cluster.SpawnOptions{})
		if err != nil {
			b.Fatal(err)
		}
		urls[i] = s.URL + APIPrefix + "/processes/" + url.PathEscape(pid.String())
	}
	benchLatency(b, func(i int) error { return benchCall(s.Client(), http.MethodDelete, urls[i], nil, h) })
}

func BenchmarkAPICatalog(b *testing.B) {
	s, h := benchServer(b)
	u := s.URL + APIPrefix + "/operations"
	benchLatency(b, func(int) error { return benchCall(s.Client(), http.MethodGet, u, nil, h) })
}

func BenchmarkAPIProcessInfoRemote(b *testing.B) {
	s, h := benchServer(b)
	u := s.URL + APIPrefix + "/processes/" + url.PathEscape("node-2/1")
	benchLatency(b, func(int) error { return benchCall(s.Client(), http.MethodGet, u, nil, h) })
}
