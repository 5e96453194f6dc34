package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// PID identifies a process anywhere in the cluster: the node it runs on and
// a per-node sequence number. It prints and parses as "node/id".
type PID struct {
	Node string `json:"node"`
	ID   uint64 `json:"id"`
}

// String returns the "node/id" form of the PID.
func (p PID) String() string {
	return p.Node + "/" + strconv.FormatUint(p.ID, 10)
}

// IsZero reports whether p is the zero PID (no process).
func (p PID) IsZero() bool { return p.Node == "" && p.ID == 0 }

// MarshalText implements encoding.TextMarshaler so PIDs read well in JSON.
// The zero PID marshals as an empty string.
func (p PID) MarshalText() ([]byte, error) {
	if p.IsZero() {
		return nil, nil
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = PID{}
		return nil
	}
	v, err := ParsePID(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePID parses the "node/id" form. The node part is everything before the
// last slash, so node names may not contain a slash but may contain anything
// else a memberlist name allows.
func ParsePID(s string) (PID, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return PID{}, fmt.Errorf("%w: %q: want node/id", ErrBadPID, s)
	}
	node := s[:i]
	if err := ValidateNodeName(node); err != nil {
		return PID{}, fmt.Errorf("%w: %q: %v", ErrBadPID, s, err)
	}
	digits := s[i+1:]
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || id == 0 || digits[0] == '0' || digits[0] == '+' {
		return PID{}, fmt.Errorf("%w: %q: id must be a positive integer", ErrBadPID, s)
	}
	return PID{Node: node, ID: id}, nil
}

// MaxNodeNameLen bounds node names so that PIDs and metadata stay small.
const MaxNodeNameLen = 128

// ValidateNodeName checks that name can be used as a node name: non-empty,
// at most MaxNodeNameLen bytes, printable ASCII without spaces or slashes.
func ValidateNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("node name is empty")
	}
	if len(name) > MaxNodeNameLen {
		return fmt.Errorf("node name is %d bytes, more than %d", len(name), MaxNodeNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c > '~' || c == '/' {
			return fmt.Errorf("node name %q has a forbidden character %q at %d", name, c, i)
		}
	}
	return nil
}
