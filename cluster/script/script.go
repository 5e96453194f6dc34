package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.starlark.net/lib/json"
	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/clusterlab/clusterlab/cluster"
)

// Defaults and bounds of a run.
const (
	// DefaultMaxSteps bounds Starlark computation steps.
	DefaultMaxSteps = 1_000_000
	// DefaultTimeout bounds a run's wall time.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxOutput bounds the print() output kept.
	DefaultMaxOutput = 64 << 10
	// MaxSource bounds a script's source.
	MaxSource = 1 << 20
	// MaxTimeout bounds Limits.Timeout.
	MaxTimeout = 10 * time.Minute
)

// Sentinel errors, matched with errors.Is on a run's error.
var (
	// ErrStepLimit reports a script that ran more steps than Limits.MaxSteps.
	ErrStepLimit = errors.New("script: step limit exceeded")
	// ErrTimeout reports a script that ran past Limits.Timeout or its
	// context's deadline.
	ErrTimeout = errors.New("script: timeout")
	// ErrCanceled reports a script whose context was canceled.
	ErrCanceled = errors.New("script: canceled")
	// ErrLoadRefused reports a load() statement: scripts cannot read files.
	ErrLoadRefused = errors.New("script: load() is not allowed")
	// ErrSyntax reports a script that does not parse or resolve.
	ErrSyntax = errors.New("script: syntax error")
	// ErrBadLimits reports invalid Limits or Env.
	ErrBadLimits = errors.New("script: bad limits")
)

// Env is what a script acts through.
type Env struct {
	// Node is the node the module works through (required).
	Node *cluster.Node
	// Sandbox, when set, makes spawn() start processes inside this
	// sandbox (cluster.Node.SandboxSpawn).
	Sandbox string
}

// Limits bound a run. Zero fields take the defaults.
type Limits struct {
	// MaxSteps bounds Starlark computation steps; default DefaultMaxSteps.
	MaxSteps uint64
	// Timeout bounds the run's wall time; default DefaultTimeout, at most
	// MaxTimeout.
	Timeout time.Duration
	// MaxSleep bounds one sleep() call; 0 means only the timeout does.
	MaxSleep time.Duration
	// MaxOutput bounds the print() output kept, in bytes; default
	// DefaultMaxOutput.
	MaxOutput int
}

// WithDefaults fills the zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxSteps == 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxOutput == 0 {
		l.MaxOutput = DefaultMaxOutput
	}
	return l
}

// Validate names the first invalid field.
func (l Limits) Validate() error {
	switch {
	case l.Timeout < 0 || l.Timeout > MaxTimeout:
		return fmt.Errorf("%w: Timeout %s: want 0..%s", ErrBadLimits, l.Timeout, MaxTimeout)
	case l.MaxSleep < 0:
		return fmt.Errorf("%w: MaxSleep %s: must not be negative", ErrBadLimits, l.MaxSleep)
	case l.MaxOutput < 0:
		return fmt.Errorf("%w: MaxOutput %d: must not be negative", ErrBadLimits, l.MaxOutput)
	}
	return nil
}

// Result is what a run produced.
type Result struct {
	// Output is what print() wrote, one line per call, cut at
	// Limits.MaxOutput.
	Output string `json:"output"`
	// OutputTruncated is set when Output was cut.
	OutputTruncated bool `json:"output_truncated,omitempty"`
	// Value is the script's top-level `result` variable converted with
	// ToGo, or nil when it sets none.
	Value any `json:"value,omitempty"`
	// Steps is how many Starlark steps ran.
	Steps uint64 `json:"steps"`
	// Duration is the run's wall time.
	Duration time.Duration `json:"duration"`
}

// Error is a script that failed: where, what, and the Starlark call stack.
// It unwraps to ErrStepLimit, ErrTimeout, ErrCanceled, ErrLoadRefused or
// ErrSyntax when one of them is the cause.
type Error struct {
	// Pos is the innermost position in the script: file:line:col.
	Pos string `json:"pos"`
	// Msg says what went wrong.
	Msg string `json:"message"`
	// Backtrace is the Starlark call stack, outermost first, ending with
	// the error.
	Backtrace string `json:"backtrace,omitempty"`
	cause     error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("script: ")
	if e.Pos != "" {
		b.WriteString(e.Pos)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Backtrace != "" {
		b.WriteString("\n")
		b.WriteString(e.Backtrace)
	}
	return b.String()
}

// Unwrap returns the sentinel cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// FileOptions returns the Starlark dialect scripts are parsed with: sets,
// while loops, top-level control flow and global reassignment, but no
// recursion (deep recursion would exhaust the Go stack before the step
// limit stops it).
func FileOptions() *syntax.FileOptions {
	return &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}
}

// output keeps print() lines up to a bound.
type output struct {
	b         strings.Builder
	max       int
	truncated bool
}

func (o *output) print(msg string) {
	if o.truncated {
		return
	}
	line := msg + "\n"
	room := o.max - o.b.Len()
	if len(line) <= room {
		o.b.WriteString(line)
		return
	}
	for room > 0 && !utf8.RuneStart(line[room]) {
		room--
	}
	o.b.WriteString(line[:max(room, 0)])
	o.truncated = true
}

// Thread-local keys.
const (
	localContext = "clusterlab.context"
	localLimits  = "clusterlab.limits"
)

// Bind prepares a thread that calls the cluster module outside Run (script
// operations): the module's calls use ctx and limits.MaxSleep, and load()
// is refused. Call it before the thread runs. Steps and cancellation stay
// the caller's to set (SetMaxExecutionSteps, Cancel).
func Bind(thread *starlark.Thread, ctx context.Context, limits Limits) {
	thread.SetLocal(localContext, ctx)
	thread.SetLocal(localLimits, limits.WithDefaults())
	thread.Load = func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
		return nil, fmt.Errorf("%w: %q: scripts cannot read files", ErrLoadRefused, module)
	}
}

func contextOf(thread *starlark.Thread) context.Context {
	if ctx, ok := thread.Local(localContext).(context.Context); ok && ctx != nil {
		return ctx
	}
	return context.Background()
}

func limitsOf(thread *starlark.Thread) Limits {
	if l, ok := thread.Local(localLimits).(Limits); ok {
		return l
	}
	return Limits{}.WithDefaults()
}

// Predeclared returns the names every script sees: the cluster module and
// the json module (json.encode, json.decode).
func Predeclared(env Env) starlark.StringDict {
	return starlark.StringDict{
		"cluster": Module(env),
		"json":    json.Module,
	}
}

// Run runs src (named filename in errors) with the cluster module, within
// limits. On error the Result still holds the output printed so far; the
// error is an *Error with the position and backtrace when the script
// itself failed.
func Run(ctx context.Context, env Env, filename, src string, limits Limits) (Result, error) {
	if env.Node == nil {
		return Result{}, fmt.Errorf("%w: Env.Node is nil", ErrBadLimits)
	}
	if err := limits.Validate(); err != nil {
		return Result{}, err
	}
	limits = limits.WithDefaults()
	if len(src) > MaxSource {
		return Result{}, fmt.Errorf("script: %s: source of %d bytes, more than %d", filename, len(src), MaxSource)
	}
	if filename == "" {
		filename = "script.star"
	}
	ctx, cancel := context.WithTimeout(ctx, limits.Timeout)
	defer cancel()

	out := &output{max: limits.MaxOutput}
	thread := &starlark.Thread{
		Name:  filename,
		Print: func(_ *starlark.Thread, msg string) { out.print(msg) },
	}
	Bind(thread, ctx, limits)
	var loadRefused, tooManySteps atomic.Bool
	thread.Load = func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
		loadRefused.Store(true)
		return nil, fmt.Errorf("load(%q) is not allowed: scripts cannot read files", module)
	}
	thread.SetMaxExecutionSteps(limits.MaxSteps)
	thread.OnMaxSteps = func(th *starlark.Thread) {
		tooManySteps.Store(true)
		th.Cancel("too many steps")
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			thread.Cancel(ctx.Err().Error())
		case <-done:
		}
	}()
	start := time.Now()
	globals, err := starlark.ExecFileOptions(FileOptions(), thread, filename, src, Predeclared(env))
	close(done)
	res := Result{Output: out.b.String(), OutputTruncated: out.truncated, Steps: thread.ExecutionSteps(), Duration: time.Since(start)}
	if err != nil {
		var cause error
		switch {
		case tooManySteps.Load():
			cause = ErrStepLimit
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			cause = ErrTimeout
		case errors.Is(ctx.Err(), context.Canceled):
			cause = ErrCanceled
		case loadRefused.Load():
			cause = ErrLoadRefused
		}
		return res, scriptError(err, cause, limits)
	}
	if v, ok := globals["result"]; ok {
		gv, err := ToGo(v)
		if err != nil {
			return res, &Error{Pos: filename, Msg: fmt.Sprintf("result: %v", err)}
		}
		res.Value = gv
	}
	return res, nil
}

// scriptError turns a Starlark error into an *Error.
func scriptError(err error, cause error, limits Limits) error {
	var ee *starlark.EvalError
	var se syntax.Error
	var re resolve.ErrorList
	switch {
	case errors.As(err, &ee):
		e := &Error{Msg: ee.Msg, Backtrace: ee.Backtrace(), cause: cause}
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			if fr := ee.CallStack[i]; fr.Pos.IsValid() && fr.Pos.Filename() != "<builtin>" {
				e.Pos = fr.Pos.String()
				break
			}
		}
		switch cause {
		case ErrStepLimit:
			e.Msg = fmt.Sprintf("step limit of %d exceeded", limits.MaxSteps)
		case ErrTimeout:
			e.Msg = fmt.Sprintf("timeout after %s (%s)", limits.Timeout, ee.Msg)
		case ErrCanceled:
			e.Msg = "canceled (" + ee.Msg + ")"
		}
		return e
	case errors.As(err, &se):
		return &Error{Pos: se.Pos.String(), Msg: se.Msg, cause: ErrSyntax}
	case errors.As(err, &re) && len(re) > 0:
		e := &Error{Pos: re[0].Pos.String(), Msg: re[0].Msg, cause: ErrSyntax}
		if len(re) > 1 {
			msgs := make([]string, 0, len(re))
			for _, x := range re {
				msgs = append(msgs, x.Pos.String()+": "+x.Msg)
			}
			e.Backtrace = strings.Join(msgs, "\n")
		}
		return e
	}
	return &Error{Msg: err.Error(), cause: cause}
}

// ExecInSandbox runs src inside a sandbox: spawn() starts processes in it.
// The sandbox must exist (not_found *cluster.RPCError otherwise).
func ExecInSandbox(ctx context.Context, n *cluster.Node, sandbox, src string, limits Limits) (Result, error) {
	if n == nil {
		return Result{}, fmt.Errorf("%w: node is nil", ErrBadLimits)
	}
	info, ok := n.Sandbox(sandbox)
	if !ok || info.State == cluster.SandboxDestroyed {
		return Result{}, &cluster.RPCError{Code: cluster.CodeNotFound, Node: n.Name(), Message: fmt.Sprintf("no sandbox %q", sandbox)}
	}
	return Run(ctx, Env{Node: n, Sandbox: sandbox}, sandbox+".star", src, limits)
}
