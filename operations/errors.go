package operations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/clusterlab/clusterlab/cluster"
)

// Error codes of the error envelope. They are stable strings that the CLI
// and the UI may switch on.
const (
	// CodeInvalidParams: a parameter is missing, unknown or malformed (400).
	CodeInvalidParams = "invalid_params"
	// CodeBadRequest: the request itself is malformed (400).
	CodeBadRequest = "bad_request"
	// CodeTooLarge: the request body is over its size limit (413).
	CodeTooLarge = "too_large"
	// CodeUnauthorized: the bearer token is missing or wrong (401).
	CodeUnauthorized = "unauthorized"
	// CodeUnknownOperation: no operation has that name (404).
	CodeUnknownOperation = "unknown_operation"
	// CodeNotFound: the process, name or node does not exist (404).
	CodeNotFound = cluster.CodeNotFound
	// CodeMethodNotAllowed: the route exists for other methods (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeConflict: the thing exists already or is in the wrong state (409).
	CodeConflict = cluster.CodeConflict
	// CodeConfirmationRequired: a destructive operation was sent without
	// confirmation (428).
	CodeConfirmationRequired = "confirmation_required"
	// CodeSimulatorOnly: the operation needs the embedded simulator (422).
	CodeSimulatorOnly = "simulator_only"
	// CodeUnprocessable: the request is well formed but cannot be done,
	// such as spawning on an observer node (422).
	CodeUnprocessable = "unprocessable"
	// CodeLoadError: the operation failed to load (a broken script) (422).
	CodeLoadError = "load_error"
	// CodeNodeUnreachable: the node that must answer is down or cut off (502).
	CodeNodeUnreachable = cluster.CodeNodeUnreachable
	// CodeTimeout: the operation did not finish in time (504).
	CodeTimeout = cluster.CodeTimeout
	// CodeInternal: anything else, including a panic (500).
	CodeInternal = cluster.CodeInternal
)

// statusByCode maps error codes to HTTP statuses.
var statusByCode = map[string]int{
	CodeInvalidParams:        http.StatusBadRequest,
	CodeBadRequest:           http.StatusBadRequest,
	CodeTooLarge:             http.StatusRequestEntityTooLarge,
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeUnknownOperation:     http.StatusNotFound,
	CodeNotFound:             http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeConflict:             http.StatusConflict,
	CodeConfirmationRequired: http.StatusPreconditionRequired,
	CodeSimulatorOnly:        http.StatusUnprocessableEntity,
	CodeUnprocessable:        http.StatusUnprocessableEntity,
	CodeLoadError:            http.StatusUnprocessableEntity,
	CodeNodeUnreachable:      http.StatusBadGateway,
	CodeTimeout:              http.StatusGatewayTimeout,
	CodeInternal:             http.StatusInternalServerError,
}

// StatusFor returns the HTTP status of an error code (500 for unknown codes).
func StatusFor(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is a failure as every surface shows it: what happened (Message),
// a stable Code, structured Details and what to do next (Remediation).
// It marshals as the inside of the {"error": ...} envelope.
type Error struct {
	Code        string         `json:"code"`
	Message     string         `json:"message"`
	Details     map[string]any `json:"details,omitempty"`
	Remediation string         `json:"remediation,omitempty"`
	// Err is the underlying cause, if any; it is not sent to clients.
	Err error `json:"-"`
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string {
	return "operations: " + e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status for the error's code.
func (e *Error) Status() int { return StatusFor(e.Code) }

// With returns e with a detail added (e is modified and returned).
func (e *Error) With(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// Fix returns e with its remediation set (e is modified and returned).
func (e *Error) Fix(remediation string) *Error {
	e.Remediation = remediation
	return e
}

// Envelope is the JSON body of every error response.
type Envelope struct {
	Error *Error `json:"error"`
}

// AsError turns any error from a run into an *Error: an *Error is kept;
// a *cluster.RPCError (or a wrapped cluster sentinel) is mapped by its code;
// context deadlines become timeouts. env, when given, is used to write a
// specific remediation: for an unreachable node it names the node, its last
// membership state as the observer sees it, and what to run next.
func AsError(err error, env *Env) *Error {
	if err == nil {
		return nil
	}
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	var re *cluster.RPCError
	if errors.As(err, &re) {
		return fromRPCError(re, err, env)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Message: "the operation did not finish before its deadline", Err: err,
			Remediation: "retry; if it keeps timing out, check the nodes' state with `clusterlab op run list_nodes`"}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeTimeout, Message: "the operation was cancelled", Err: err}
	case errors.Is(err, cluster.ErrBadPID), errors.Is(err, cluster.ErrBadFrame):
		return &Error{Code: CodeBadRequest, Message: trimPrefix(err.Error()), Err: err}
	case errors.Is(err, cluster.ErrStopped):
		return &Error{Code: CodeUnprocessable, Message: "the observer node is not running", Err: err,
			Remediation: "restart clusterlab"}
	}
	switch code := cluster.ErrorCode(err); code {
	case cluster.CodeNotFound, cluster.CodeConflict, cluster.CodeTimeout, cluster.CodeNodeUnreachable:
		return &Error{Code: code, Message: trimPrefix(err.Error()), Err: err}
	}
	return &Error{Code: CodeInternal, Message: trimPrefix(err.Error()), Err: err}
}

// trimPrefix drops a leading "cluster: " so messages read well.
func trimPrefix(s string) string { return strings.TrimPrefix(s, "cluster: ") }

func fromRPCError(re *cluster.RPCError, err error, env *Env) *Error {
	e := &Error{Code: re.Code, Message: re.Message, Err: err}
	if re.Node != "" {
		e.With("node", re.Node)
	}
	if re.State != "" {
		e.With("state", re.State)
	}
	if obs := env.Observer(); obs != "" {
		e.With("observer", obs)
	}
	switch re.Code {
	case cluster.CodeNodeUnreachable:
		e.Message = fmt.Sprintf("node %s is unreachable: %s", re.Node, re.Message)
		e.Remediation = UnreachableRemediation(env, re.Node, re.State)
	case cluster.CodeTimeout:
		e.Message = fmt.Sprintf("node %s did not answer in time: %s", re.Node, re.Message)
		e.Remediation = fmt.Sprintf("%s is %s but slow; retry, or look at its load with `clusterlab op run node_info node=%s`", re.Node, orUnknown(re.State), re.Node)
	case cluster.CodeNotFound:
		e.Remediation = "list what exists with `clusterlab op run list_processes` (or `list_nodes`, `registry_list`)"
	case cluster.CodeConflict:
		e.Remediation = "pick another name or remove the existing one first"
	case cluster.CodeBadRequest:
		e.Code = CodeBadRequest
	case cluster.CodeInternal:
	default:
		// An unknown code from a newer node: keep it, served as 500.
	}
	return e
}

func orUnknown(s string) string {
	if s == "" {
		return cluster.StateUnknown
	}
	return s
}

// UnreachableRemediation says what to do about an unreachable node: it
// names the node and its last membership state as the observer sees it,
// and what to run next (restart it, when a simulator is there to do it).
func UnreachableRemediation(env *Env, node, state string) string {
	if state == "" && env != nil && env.Node != nil {
		state = env.Node.MemberState(node)
	}
	state = orUnknown(state)
	seenBy := "this node"
	if obs := env.Observer(); obs != "" {
		seenBy = obs
	}
	s := fmt.Sprintf("%s is %s as seen by %s; run `clusterlab op run list_nodes` to see live members", node, state, seenBy)
	if env != nil && env.Sim != nil {
		switch state {
		case cluster.StateAlive, cluster.StateSuspect:
			s += fmt.Sprintf(", or look for a partition or cut with `clusterlab op run cluster_topology` and remove it with `clusterlab op run heal`")
		default:
			s += fmt.Sprintf(", or restart it with `clusterlab op run node_restart node=%s --yes`", node)
		}
	} else {
		s += "; if it should be up, check that its process runs and that its gossip and RPC ports are reachable"
	}
	return s
}
