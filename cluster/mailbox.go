package cluster

import "sync"

// mailbox is a FIFO of messages stored in a chain of fixed-capacity
// segments, so that growing it never copies queued messages and the
// consumer can take everything queued in O(1). It is guarded by its
// process's mutex.
type mailbox struct {
	head, tail *segment
	n          int
}

type segment struct {
	buf  []Message
	next *segment
}

const (
	firstSegment = 4
	maxSegment   = 256
)

var segmentPool = sync.Pool{New: func() any { return &segment{buf: make([]Message, 0, maxSegment)} }}

func (q *mailbox) push(m Message) {
	t := q.tail
	if t == nil || len(t.buf) == cap(t.buf) {
		size := firstSegment
		if t != nil {
			size = min(cap(t.buf)*2, maxSegment)
		}
		var s *segment
		if size == maxSegment {
			s = segmentPool.Get().(*segment)
		} else {
			s = &segment{buf: make([]Message, 0, size)}
		}
		if t == nil {
			q.head = s
		} else {
			t.next = s
		}
		q.tail, t = s, s
	}
	t.buf = append(t.buf, m)
	q.n++
}

// takeAll empties the mailbox and returns its segments.
func (q *mailbox) takeAll() *segment {
	h := q.head
	q.head, q.tail, q.n = nil, nil, 0
	return h
}

// release clears a consumed segment and recycles full-size ones.
func (s *segment) release() {
	clear(s.buf)
	if cap(s.buf) == maxSegment {
		s.buf, s.next = s.buf[:0], nil
		segmentPool.Put(s)
	}
}
