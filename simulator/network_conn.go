package simulator

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipe is one simulated stream: two conns (sides[0] dialed, sides[1]
// accepted) and a byte queue per direction. Everything is guarded by mu;
// waiting readers watch notify, which is closed and replaced on every
// change, plus a timer for their deadline or the next delayed chunk. No
// goroutine runs per pipe.
type pipe struct {
	net   *Network
	eps   [2]*endpoint
	names [2]string

	mu     sync.Mutex
	notify chan struct{}
	err    error        // set by reset: both sides fail with it
	sides  [2]conn      // sides[i] belongs to eps[i]
	queues [2]byteQueue // queues[i] carries bytes written by sides[i]
}

// byteQueue is one direction of a pipe.
type byteQueue struct {
	chunks   []chunk
	buffered int       // unread bytes, delivered or still in flight
	last     time.Time // arrival time of the newest chunk, to keep order
	eof      bool      // the writer closed: EOF once chunks drain
	gone     bool      // the reader closed: writes fail
}

// chunk is one write, readable from at.
type chunk struct {
	data []byte
	at   time.Time
}

func newPipe(n *Network, eps [2]*endpoint, dialerAddr, serverAddr net.Addr) *pipe {
	p := &pipe{
		net:    n,
		eps:    eps,
		names:  [2]string{eps[0].name, eps[1].name},
		notify: make(chan struct{}),
	}
	p.sides[0] = conn{p: p, side: 0, local: dialerAddr, remote: serverAddr}
	p.sides[1] = conn{p: p, side: 1, local: serverAddr, remote: dialerAddr}
	return p
}

// broadcastLocked wakes every waiter.
func (p *pipe) broadcastLocked() {
	close(p.notify)
	p.notify = make(chan struct{})
}

// reset breaks the stream like a TCP RST: queued bytes are discarded and
// both sides' reads and writes fail with err. It reports whether the stream
// was still open.
func (p *pipe) reset(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil || (p.sides[0].closed && p.sides[1].closed) {
		return false
	}
	p.err = err
	for i := range p.queues {
		p.queues[i] = byteQueue{}
	}
	p.broadcastLocked()
	return true
}

// conn is one side of a pipe. It implements net.Conn: writes queue without
// waiting for the reader, reads block until data, EOF, a reset, Close or
// the read deadline.
type conn struct {
	p             *pipe
	side          int
	local, remote net.Addr

	// Guarded by p.mu.
	closed        bool
	readDeadline  time.Time
	writeDeadline time.Time
}

var _ net.Conn = (*conn)(nil)

func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

// Read reads bytes that have arrived, waiting for some if none have. After
// the peer closes it returns io.EOF once the queue is drained.
func (c *conn) Read(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	for {
		if c.closed {
			p.mu.Unlock()
			return 0, c.opError("read", net.ErrClosed)
		}
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return 0, c.opError("read", err)
		}
		q := &p.queues[1-c.side]
		now := time.Now()
		if len(b) == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if n := q.readLocked(b, now); n > 0 {
			p.mu.Unlock()
			return n, nil
		}
		if len(q.chunks) == 0 && q.eof {
			p.mu.Unlock()
			return 0, io.EOF
		}
		dl := c.readDeadline
		if !dl.IsZero() && !now.Before(dl) {
			p.mu.Unlock()
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		wake := dl
		if len(q.chunks) > 0 && (wake.IsZero() || q.chunks[0].at.Before(wake)) {
			wake = q.chunks[0].at
		}
		notify := p.notify
		p.mu.Unlock()
		wait(notify, wake)
		p.mu.Lock()
	}
}

// wait blocks until notify closes or, when wake is set, wake passes.
func wait(notify <-chan struct{}, wake time.Time) {
	if wake.IsZero() {
		<-notify
		return
	}
	t := time.NewTimer(time.Until(wake))
	defer t.Stop()
	select {
	case <-notify:
	case <-t.C:
	}
}

// readLocked copies the chunks that have arrived by now into b.
func (q *byteQueue) readLocked(b []byte, now time.Time) int {
	n := 0
	for n < len(b) && len(q.chunks) > 0 && !q.chunks[0].at.After(now) {
		ch := &q.chunks[0]
		k := copy(b[n:], ch.data)
		n += k
		if k < len(ch.data) {
			ch.data = ch.data[k:]
			break
		}
		q.chunks[0] = chunk{}
		q.chunks = q.chunks[1:]
	}
	q.buffered -= n
	return n
}

// Write queues a copy of b for the peer and returns at once; the peer can
// read it after the link's latency. It fails if the queue would exceed its
// byte limit, after the peer closed, or past the write deadline.
func (c *conn) Write(b []byte) (int, error) {
	p := c.p
	d := p.net.linkDelay(p.names[c.side], p.names[1-c.side])

	p.mu.Lock()
	defer p.mu.Unlock()
	q := &p.queues[c.side]
	now := time.Now()
	switch {
	case c.closed:
		return 0, c.opError("write", net.ErrClosed)
	case p.err != nil:
		return 0, c.opError("write", p.err)
	case !c.writeDeadline.IsZero() && !now.Before(c.writeDeadline):
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	case q.gone:
		return 0, c.opError("write", ErrConnReset)
	case len(b) == 0:
		return 0, nil
	case q.buffered+len(b) > maxStreamBuffer:
		return 0, c.opError("write", ErrBufferFull)
	}
	at := now.Add(d)
	if at.Before(q.last) {
		at = q.last
	}
	q.last = at
	q.chunks = append(q.chunks, chunk{data: append([]byte(nil), b...), at: at})
	q.buffered += len(b)
	p.net.stats.streamBytes.Add(uint64(len(b)))
	p.broadcastLocked()
	return len(b), nil
}

// Close closes this side: its reads and writes fail with net.ErrClosed, the
// peer reads what was written and then io.EOF, and the peer's writes fail.
// Close is idempotent.
func (c *conn) Close() error {
	p := c.p
	p.mu.Lock()
	if c.closed {
		p.mu.Unlock()
		return nil
	}
	c.closed = true
	p.queues[c.side].eof = true
	in := &p.queues[1-c.side]
	in.chunks, in.buffered, in.gone = nil, 0, true
	both := p.sides[1-c.side].closed
	p.broadcastLocked()
	p.mu.Unlock()
	if both {
		p.net.forget(p)
	}
	return nil
}

// LocalAddr returns this side's address: for the dialer an ephemeral port
// on its gossip IP, for the acceptor the address that was dialed.
func (c *conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's LocalAddr.
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both the read and the write deadline.
func (c *conn) SetDeadline(t time.Time) error {
	return c.setDeadlines(t, true, true)
}

// SetReadDeadline sets when blocked and future reads fail with
// os.ErrDeadlineExceeded; the zero time means never.
func (c *conn) SetReadDeadline(t time.Time) error {
	return c.setDeadlines(t, true, false)
}

// SetWriteDeadline sets when future writes fail with
// os.ErrDeadlineExceeded; writes never block, so it matters only once
// passed.
func (c *conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadlines(t, false, true)
}

func (c *conn) setDeadlines(t time.Time, read, write bool) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.closed {
		return c.opError("set", net.ErrClosed)
	}
	if read {
		c.readDeadline = t
	}
	if write {
		c.writeDeadline = t
	}
	p.broadcastLocked()
	return nil
}
