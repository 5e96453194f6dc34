package session

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	st, err := Open(context.Background(), OpenOptions{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// BenchmarkSaveSession: one SaveSession, a committed (fsynced) bbolt
// transaction.
func BenchmarkSaveSession(b *testing.B) {
	p := benchStore(b).Project("bench")
	s := fullSession()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.SaveSession(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSession: reading the session back (restore on launch).
func BenchmarkSession(b *testing.B) {
	p := benchStore(b).Project("bench")
	if err := p.SaveSession(fullSession()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Session(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendHistory: one operation record appended to a full history
// (1000 kept, so each append also drops the oldest).
func BenchmarkAppendHistory(b *testing.B) {
	p := benchStore(b).Project("bench")
	rec := OperationRecord{Time: time.Now(), Operation: "kill_process", Params: map[string]any{"pid": "node-1/4", "reason": "killed"}, OK: true, DurationMS: 1.2}
	for range DefaultMaxHistory {
		if err := p.AppendHistory(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.AppendHistory(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistory100: the palette's recent operations.
func BenchmarkHistory100(b *testing.B) {
	p := benchStore(b).Project("bench")
	for i := range DefaultMaxHistory {
		if err := p.AppendHistory(OperationRecord{Operation: "send", Params: map[string]any{"i": fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.History(100); err != nil {
			b.Fatal(err)
		}
	}
}
