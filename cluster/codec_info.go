package cluster

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// Binary encoding of process pages for the proc.list RPC: a cluster-wide
// listing moves hundreds of ProcessInfo values per request, and JSON
// decoding dominated its cost.

// Version 2 added the flags byte (bit 0: more matches than the page holds).
const pageCodecVersion = 2

// maxListEntries bounds the slices and maps decoded from one page.
const maxListEntries = MaxPageSize * 4

func appendPIDs(b []byte, ps []PID) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = appendPID(b, p)
	}
	return b
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendInfo(b []byte, p *ProcessInfo) []byte {
	b = appendPID(b, p.PID)
	b = appendString(b, p.Name)
	b = appendStrings(b, p.Registered)
	b = appendString(b, p.Behavior)
	b = appendString(b, p.Status)
	b = binary.AppendUvarint(b, uint64(p.Mailbox))
	b = binary.AppendUvarint(b, uint64(p.MailboxHighWater))
	b = binary.AppendUvarint(b, p.MessagesIn)
	b = binary.AppendUvarint(b, p.MessagesOut)
	b = binary.AppendVarint(b, p.StartedAt.UnixNano())
	b = appendPIDs(b, p.Links)
	b = appendPIDs(b, p.Monitors)
	b = appendPIDs(b, p.Monitoring)
	if p.TrapExits {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Labels)))
	for k, v := range p.Labels {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

// encodePage encodes a page of process infos (without cursor or missing
// nodes, which the View adds), in a buffer of pageBuffers.
func encodePage(page ProcessPage) []byte {
	b := appendPageHeader(getPageBuffer(64+len(page.Processes)*128), page.Total, len(page.Processes), page.more)
	for i := range page.Processes {
		b = appendInfo(b, &page.Processes[i])
	}
	return b
}

// pageBuffers recycles the encoded pages of proc.list answers: the RPC
// server returns a page's buffer once it has written it (see serveConn),
// and the view the received frame once it has decoded it.
var pageBuffers sync.Pool

// maxPooledPage bounds the buffers kept in pageBuffers.
const maxPooledPage = 256 << 10

// getPageBuffer returns an empty buffer, of capacity size when it has to
// allocate one.
func getPageBuffer(size int) []byte {
	if bp, ok := pageBuffers.Get().(*[]byte); ok {
		return (*bp)[:0]
	}
	return make([]byte, 0, size)
}

// putPageBuffer gives b back to pageBuffers; nothing may use it after.
func putPageBuffer(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledPage {
		return
	}
	b = b[:0]
	pageBuffers.Put(&b)
}

func (d *decoder) count(what string) int {
	n := d.uvarint(what)
	if d.err == nil && (n > maxListEntries || n > uint64(len(d.b))) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) pids(what string) []PID {
	n := d.count(what)
	if n == 0 {
		return nil
	}
	out := make([]PID, 0, n)
	for range n {
		if d.err != nil {
			return nil
		}
		out = append(out, d.pid(what))
	}
	return out
}

// interned returns the string of b, shared with the earlier equal ones:
// the node, behaviour and status of a page's processes repeat.
func (d *decoder) interned(seen map[string]string, what string) string {
	b := d.bytes(what, maxStringLen)
	if len(b) == 0 {
		return ""
	}
	if s, ok := seen[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(seen) < 256 {
		seen[s] = s
	}
	return s
}

func (d *decoder) info(seen map[string]string) ProcessInfo {
	var p ProcessInfo
	p.PID.Node = d.interned(seen, "pid")
	p.PID.ID = d.uvarint("pid")
	if d.err == nil && p.PID.Node != "" {
		if err := ValidateNodeName(p.PID.Node); err != nil {
			d.err = fmt.Errorf("%w: pid: %v", ErrBadFrame, err)
		}
	}
	p.Node = p.PID.Node
	p.Name = d.string("name")
	if n := d.count("registered"); n > 0 {
		p.Registered = make([]string, 0, n)
		for range n {
			p.Registered = append(p.Registered, d.string("registered"))
		}
	}
	p.Behavior = d.interned(seen, "behavior")
	p.Status = d.interned(seen, "status")
	p.Mailbox = int(min(d.uvarint("mailbox"), 1<<62))
	p.MailboxHighWater = int(min(d.uvarint("high water"), 1<<62))
	p.MessagesIn = d.uvarint("messages in")
	p.MessagesOut = d.uvarint("messages out")
	if d.err == nil {
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.fail("started at")
		} else {
			d.b = d.b[n:]
			p.StartedAt = time.Unix(0, v)
		}
	}
	p.Links = d.pids("links")
	p.Monitors = d.pids("monitors")
	p.Monitoring = d.pids("monitoring")
	if d.err == nil {
		if len(d.b) == 0 {
			d.fail("trap exits")
		} else {
			p.TrapExits = d.b[0] == 1
			d.b = d.b[1:]
		}
	}
	if n := d.count("labels"); n > 0 {
		p.Labels = make(map[string]string, n)
		for range n {
			k := d.string("label key")
			p.Labels[k] = d.string("label value")
		}
	}
	return p
}

// appendPageHeader starts a page of count processes (appendInfo each).
func appendPageHeader(b []byte, total, count int, more bool) []byte {
	b = append(b, pageCodecVersion)
	var flags byte
	if more {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(total))
	return binary.AppendUvarint(b, uint64(count))
}

// decodePage decodes what encodePage encoded; bytes come from the network.
func decodePage(b []byte) (ProcessPage, error) { return decodePageInto(b, nil) }

// decodePageInto is decodePage with the processes decoded into dst's
// storage when it is large enough (a scratch slice the caller reuses;
// dst's elements are overwritten). Strings are copies: b can be reused.
func decodePageInto(b []byte, dst []ProcessInfo) (ProcessPage, error) {
	if len(b) == 0 || b[0] != pageCodecVersion {
		return ProcessPage{}, fmt.Errorf("%w: process page version", ErrBadFrame)
	}
	if len(b) < 2 || b[1]&^1 != 0 {
		return ProcessPage{}, fmt.Errorf("%w: process page flags", ErrBadFrame)
	}
	d := decoder{b: b[2:]}
	page := ProcessPage{more: b[1]&1 != 0}
	page.Total = int(min(d.uvarint("total"), 1<<40))
	n := d.count("processes")
	if cap(dst) >= n {
		page.Processes = dst[:0]
	} else {
		page.Processes = make([]ProcessInfo, 0, n)
	}
	seen := make(map[string]string, 4)
	for range n {
		if d.err != nil {
			break
		}
		page.Processes = append(page.Processes, d.info(seen))
	}
	if err := d.end(); err != nil {
		return ProcessPage{}, err
	}
	return page, nil
}
