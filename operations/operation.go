package operations

import (
	"context"
	"log/slog"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Operation is one action on a cluster. Spec describes it; Execute does it
// with parameters the framework has already validated, coerced and
// completed with defaults (see Params).
//
// Concurrency: Spec and Execute may be called from many goroutines at once
// and must be safe for that. Spec must return the same value every time.
// Execute must honour ctx (the framework gives it a deadline) and should
// return cluster errors as they are (the framework maps *cluster.RPCError
// codes to HTTP statuses and remediations) or an *Error for anything more
// specific. A panic in Execute is recovered and reported as an internal
// error.
type Operation interface {
	// Spec describes the operation: name, parameters, result.
	Spec() Spec
	// Execute runs the operation. The returned value is encoded as JSON.
	Execute(ctx context.Context, env *Env, params Params) (any, error)
}

// Spec describes an operation for every surface: the catalog, the OpenAPI
// document, the CLI's describe and the UI's generated forms.
type Spec struct {
	// Name is the operation's unique name: lower case letters, digits and
	// underscores, starting with a letter (list_processes).
	Name string `json:"name"`
	// Category groups operations in listings (cluster, processes,
	// registry, simulator, ...).
	Category string `json:"category"`
	// Summary is one line saying what the operation does.
	Summary string `json:"summary"`
	// Description is the longer help text.
	Description string `json:"description,omitempty"`
	// Params are the accepted parameters; anything else is rejected.
	Params []Param `json:"params"`
	// Result describes what a successful run returns.
	Result string `json:"result,omitempty"`
	// Destructive marks operations that lose state (kill a process, crash
	// a node): surfaces ask for confirmation first.
	Destructive bool `json:"destructive,omitempty"`
	// SimulatorOnly marks operations that need the embedded simulator;
	// on a real cluster they fail with CodeSimulatorOnly (HTTP 422).
	SimulatorOnly bool `json:"simulator_only,omitempty"`
	// Timeout bounds one run; zero means DefaultTimeout. It does not depend
	// on the parameters.
	Timeout time.Duration `json:"-"`
}

// DefaultTimeout bounds a run of an operation whose Spec has no Timeout.
const DefaultTimeout = 10 * time.Second

// MaxTimeout is the longest Timeout a Spec may ask for.
const MaxTimeout = 10 * time.Minute

// Parameter types.
const (
	// TypeString is any string (bounded by MaxLen, default MaxStringLen).
	TypeString = "string"
	// TypeInt is a 64-bit integer; "5" is coerced to 5.
	TypeInt = "int"
	// TypeFloat is a float64; "0.5" is coerced to 0.5.
	TypeFloat = "float"
	// TypeBool is true or false; "true", "false", "1" and "0" are coerced.
	TypeBool = "bool"
	// TypeDuration is a Go duration string ("250ms", "2s"); Min and Max
	// are in seconds.
	TypeDuration = "duration"
	// TypePID is a process id "node/id", coerced to cluster.PID.
	TypePID = "pid"
	// TypeNode is a node name that must be a member of the cluster (or a
	// node the simulator knows).
	TypeNode = "node"
	// TypeEnum is a string out of Enum.
	TypeEnum = "enum"
	// TypeList is a JSON array whose elements have type Items. A string is
	// split on commas ("a,b"); for a list of lists, on semicolons first
	// ("a,b;c"). A string starting with '[' is parsed as JSON.
	TypeList = "list"
	// TypeObject is a JSON object; a string starting with '{' is parsed
	// as JSON.
	TypeObject = "object"
)

// Types lists every parameter type.
var Types = []string{TypeString, TypeInt, TypeFloat, TypeBool, TypeDuration, TypePID, TypeNode, TypeEnum, TypeList, TypeObject}

// Param declares one parameter of an operation. The constraints that apply
// depend on Type: Min/Max bound numbers (durations in seconds), MinLen/MaxLen
// bound string lengths in bytes and list lengths in elements, Pattern (a Go
// regexp, anchored by the framework) applies to strings, Enum to enums, and
// Items is the element type of a list.
type Param struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Default     any      `json:"default,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	MinLen      *int     `json:"min_len,omitempty"`
	MaxLen      *int     `json:"max_len,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Items       string   `json:"items,omitempty"`
	// Secret marks a value that must not be shown or kept: forms use a
	// password field, the OpenAPI schema says format "password" and
	// writeOnly, and the operation history redacts it.
	Secret bool `json:"secret,omitempty"`
}

// F returns a pointer to f, for Param.Min and Param.Max.
func F(f float64) *float64 { return &f }

// N returns a pointer to n, for Param.MinLen and Param.MaxLen.
func N(n int) *int { return &n }

// Env is what an operation works with. The app builds one Env and shares it
// between runs; operations must not modify it.
type Env struct {
	// Node is the observer node the app joined the cluster with.
	Node *cluster.Node
	// View is the cluster-wide client over Node.
	View *cluster.View
	// Sim controls the embedded simulator; nil on a real cluster.
	Sim SimControl
	// Health reads and drives the health monitor; nil without one.
	Health HealthControl
	// Session reads and drives the project session (mode, connection,
	// history, recording); nil without a session store.
	Session SessionControl
	// Logger receives the operations' logs; nil discards them.
	Logger *slog.Logger
}

// Observer returns the name of the env's node, or "" without one.
func (e *Env) Observer() string {
	if e == nil || e.Node == nil {
		return ""
	}
	return e.Node.Name()
}

func (e *Env) logger() *slog.Logger {
	if e == nil || e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// SimNode is a virtual node as the simulator sees it.
type SimNode struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// State is running, crashed or stopped.
	State string `json:"state"`
	Addr  string `json:"addr,omitempty"`
}

// SimControl is what simulator-only operations need from the embedded
// simulator. The app implements it over *simulator.Simulator, so that this
// package does not import the simulator. Implementations must be safe for
// concurrent use and should return *Error values (CodeNotFound for an
// unknown node, CodeConflict for a node in the wrong state) where they can.
type SimControl interface {
	// Nodes lists the virtual nodes in start order.
	Nodes() []SimNode
	// AddNode starts a new node (named by the simulator when name is
	// empty), joins it and returns its name.
	AddNode(ctx context.Context, name, role string, tags map[string]string) (string, error)
	// Crash silences a running node at once.
	Crash(name string) error
	// Restart brings a node back with a fresh runtime.
	Restart(ctx context.Context, name string) error
	// Stop stops a running node gracefully.
	Stop(ctx context.Context, name string) error
	// Partition splits the network into groups; nodes named in no group
	// form one more group.
	Partition(groups [][]string) error
	// Heal removes the partition and every one-way cut.
	Heal() error
	// Cut drops packets from one node to another, one way.
	Cut(from, to string) error
	// Uncut removes a one-way cut.
	Uncut(from, to string) error
	// SetLatency sets the one-way delay and jitter of the link a-b.
	SetLatency(a, b string, latency, jitter time.Duration) error
	// SetLoss sets the packet loss probability (0..1) of the link a-b.
	SetLoss(a, b string, p float64) error
	// Reachable reports whether the network would deliver a packet from
	// one node to the other now, loss aside.
	Reachable(from, to string) bool
	// SeesAlive returns the members a running node sees alive, and false
	// when the node is not running.
	SeesAlive(name string) ([]string, bool)
	// Seed is the seed the simulation runs with.
	Seed() int64
}

// ExecuteFunc is the body of an operation made with Define.
type ExecuteFunc func(ctx context.Context, env *Env, params Params) (any, error)

// Define returns an Operation made of a spec and a function: the usual way
// to write a built-in operation.
func Define(spec Spec, fn ExecuteFunc) Operation { return &funcOp{spec: spec, fn: fn} }

type funcOp struct {
	spec Spec
	fn   ExecuteFunc
}

func (o *funcOp) Spec() Spec { return o.spec }

func (o *funcOp) Execute(ctx context.Context, env *Env, params Params) (any, error) {
	return o.fn(ctx, env, params)
}
