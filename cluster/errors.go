package cluster

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by the runtime. Test with errors.Is.
var (
	// ErrBadPID reports a PID string that does not parse.
	ErrBadPID = errors.New("cluster: bad pid")
	// ErrNoProcess reports that no process with the PID exists (any more).
	ErrNoProcess = errors.New("cluster: no such process")
	// ErrNodeUnreachable reports that the target node could not be reached.
	ErrNodeUnreachable = errors.New("cluster: node unreachable")
	// ErrTimeout reports that a request did not complete within its deadline.
	ErrTimeout = errors.New("cluster: timeout")
	// ErrNotFound reports that a named thing (behaviour, method) does not exist.
	ErrNotFound = errors.New("cluster: not found")
	// ErrStopped reports a call on a node that is not running.
	ErrStopped = errors.New("cluster: node not running")
	// ErrMetaTooLarge reports node metadata over memberlist's 512-byte limit.
	ErrMetaTooLarge = errors.New("cluster: node metadata too large")
	// ErrConflict reports a name or id that is already taken.
	ErrConflict = errors.New("cluster: conflict")
	// ErrBadFrame reports malformed bytes received from the network.
	ErrBadFrame = errors.New("cluster: malformed frame")
)

// Error codes carried by RPCError; they are stable strings that surfaces
// (REST, CLI, UI) expose to users.
const (
	CodeNodeUnreachable = "node_unreachable"
	CodeNotFound        = "not_found"
	CodeTimeout         = "timeout"
	CodeBadRequest      = "bad_request"
	CodeConflict        = "conflict"
	CodeInternal        = "internal"
)

// RPCError is a typed error from a node-to-node request. It names the target
// node and, for unreachable nodes, that node's membership state as seen by
// the caller, so a user can tell a dead node from a slow one.
type RPCError struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Node is the target node of the request.
	Node string `json:"node"`
	// State is the target's membership state as seen by the caller
	// (alive, suspect, dead, left or unknown).
	State string `json:"state,omitempty"`
	// Message says what happened.
	Message string `json:"message"`
}

// Error implements error.
func (e *RPCError) Error() string {
	if e.State != "" {
		return fmt.Sprintf("cluster: %s: node %s (%s): %s", e.Code, e.Node, e.State, e.Message)
	}
	return fmt.Sprintf("cluster: %s: node %s: %s", e.Code, e.Node, e.Message)
}

// Is lets errors.Is match RPCErrors against the sentinels by code.
func (e *RPCError) Is(target error) bool {
	switch target {
	case ErrNodeUnreachable:
		return e.Code == CodeNodeUnreachable
	case ErrTimeout:
		return e.Code == CodeTimeout
	case ErrNotFound, ErrNoProcess:
		return e.Code == CodeNotFound
	case ErrConflict:
		return e.Code == CodeConflict
	}
	return false
}

// ErrorCode returns the RPCError code of err, or "" when err carries none.
func ErrorCode(err error) string {
	var re *RPCError
	if errors.As(err, &re) {
		return re.Code
	}
	switch {
	case errors.Is(err, ErrNoProcess), errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrNodeUnreachable):
		return CodeNodeUnreachable
	case errors.Is(err, ErrTimeout):
		return CodeTimeout
	case errors.Is(err, ErrConflict):
		return CodeConflict
	}
	return ""
}
