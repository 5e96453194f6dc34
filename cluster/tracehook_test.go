package cluster

import (
	"testing"
)

// BenchmarkTraceEmit measures the hot path of a traced process alone, on
// one goroutine: an event recorded into the buffer, and an event dropped
// because the buffer is full.
func BenchmarkTraceEmit(b *testing.B) {
	p := &Process{pid: PID{Node: "n", ID: 1}}
	m := Message{From: PID{Node: "n", ID: 2}, Kind: "m", Body: []byte("payload")}
	b.Run("record", func(b *testing.B) {
		t := newTracer(p, traceBitsAll, MaxTraceMaxEvents, 4096, SystemClock{})
		p.tracer.Store(t)
		spare := make([]rawEvent, 0, 4096)
		b.ResetTimer()
		for i := range b.N {
			if i%4096 == 4095 {
				b.StopTimer()
				evs, _, _ := t.take(spare)
				spare = evs[:0]
				t.accepted = 0
				b.StartTimer()
			}
			t.emit(p, TraceReceive, m.From, &m, "")
		}
	})
	b.Run("drop", func(b *testing.B) {
		t := newTracer(p, traceBitsAll, MaxTraceMaxEvents, 0, SystemClock{})
		t.setFull(true)
		p.tracer.Store(t)
		b.ResetTimer()
		for range b.N {
			t.emit(p, TraceReceive, m.From, &m, "")
		}
	})
}
