package cluster

import (
	"fmt"
	"sort"
	"sync"
)

// Behavior is the code a process runs. The runtime calls its methods from at
// most one goroutine at a time for a given process, so a behaviour needs no
// locking of its own state. Methods must not block for long: a process that
// waits (Call) holds a goroutine while it waits.
type Behavior interface {
	// Init runs once when the process is spawned, before any message. An
	// error aborts the spawn and is returned to the spawner.
	Init(p *Process, args []byte) error
	// Handle processes one message. A returned error ends the process with
	// the error text as its exit reason.
	Handle(p *Process, msg Message) error
	// Terminate runs once when the process exits, with the reason.
	Terminate(p *Process, reason Reason)
}

// BehaviorFactory makes a fresh Behavior value for a new process, so that
// processes can be spawned by behaviour name, on any node.
type BehaviorFactory func() Behavior

// behaviorTable maps behaviour names to factories; safe for concurrent use.
type behaviorTable struct {
	mu sync.RWMutex
	m  map[string]BehaviorFactory
}

func (t *behaviorTable) register(name string, f BehaviorFactory) error {
	if name == "" || f == nil {
		return fmt.Errorf("cluster: register behaviour: empty name or nil factory")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]BehaviorFactory)
	}
	t.m[name] = f
	return nil
}

func (t *behaviorTable) get(name string) (BehaviorFactory, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	f, ok := t.m[name]
	return f, ok
}

func (t *behaviorTable) names() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.m))
	for k := range t.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
