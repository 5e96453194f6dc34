package cluster

import (
	"encoding/binary"
	"fmt"
)

// The binary codec used on the hot path (remote sends). Every decoder checks
// lengths before reading and returns ErrBadFrame instead of panicking; see
// FuzzDecodeSend.

// maxStringLen bounds any string read from the network.
const maxStringLen = 64 << 10

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendPID(b []byte, p PID) []byte {
	b = appendString(b, p.Node)
	return binary.AppendUvarint(b, p.ID)
}

func appendMessage(b []byte, m Message) []byte {
	b = appendPID(b, m.From)
	b = appendString(b, m.Kind)
	b = appendBytes(b, m.Body)
	b = binary.AppendUvarint(b, m.Ref)
	return appendString(b, m.ReplyTo)
}

// decoder reads the codec's values, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrBadFrame, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string, limit uint64) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > limit || n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) string(what string) string {
	return string(d.bytes(what, maxStringLen))
}

func (d *decoder) pid(what string) PID {
	p := PID{Node: d.string(what), ID: d.uvarint(what)}
	if d.err == nil && p.Node != "" {
		if err := ValidateNodeName(p.Node); err != nil {
			d.err = fmt.Errorf("%w: %s: %v", ErrBadFrame, what, err)
		}
	}
	return p
}

func (d *decoder) message() Message {
	m := Message{
		From: d.pid("message from"),
		Kind: d.string("message kind"),
	}
	if body := d.bytes("message body", maxFrameSize); len(body) > 0 {
		m.Body = append([]byte(nil), body...)
	}
	m.Ref = d.uvarint("message ref")
	m.ReplyTo = d.string("message reply-to")
	return m
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrBadFrame, len(d.b))
	}
	return d.err
}

// encodeSend encodes a message addressed to a process.
func encodeSend(to PID, m Message) []byte {
	b := make([]byte, 0, 32+len(to.Node)+len(m.From.Node)+len(m.Kind)+len(m.Body)+len(m.ReplyTo))
	b = appendPID(b, to)
	return appendMessage(b, m)
}

// decodeSend decodes what encodeSend encoded.
func decodeSend(b []byte) (PID, Message, error) {
	d := decoder{b: b}
	to := d.pid("target")
	m := d.message()
	if err := d.end(); err != nil {
		return PID{}, Message{}, err
	}
	if to.Node == "" || to.ID == 0 {
		return PID{}, Message{}, fmt.Errorf("%w: target pid %q", ErrBadFrame, to)
	}
	return to, m, nil
}
