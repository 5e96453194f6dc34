package operations

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// SourceBuiltin is the Source of operations compiled into clusterlab.
const SourceBuiltin = "builtin"

// Entry is one operation in a registry.
type Entry struct {
	// Spec is the operation's spec as it was registered.
	Spec Spec
	// Source says where the operation comes from: SourceBuiltin, or the
	// path of a script file.
	Source string
	// Op is the operation.
	Op Operation

	check *checker
}

// LoadFailure is an operation that could not be loaded, such as a script
// with a syntax error. Surfaces list it with its error so the user can
// fix the source; running it answers CodeLoadError.
type LoadFailure struct {
	// Name is the operation's name if it is known (otherwise derived from
	// the source by the loader).
	Name string `json:"name"`
	// Source is where the operation was loaded from.
	Source string `json:"source"`
	// Error says why loading failed.
	Error string `json:"error"`
	// Time is when the load failed.
	Time time.Time `json:"time"`
}

// Registry is the single list of operations that every surface reads. It
// changes at run time (Add, Replace, Remove, SetFailed) and is safe for
// concurrent use; a change is visible to the next call of any method.
type Registry struct {
	mu      sync.RWMutex
	ops     map[string]*Entry
	failed  map[string]LoadFailure // by source
	version uint64
	subs    map[uint64]func()
	subSeq  uint64
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{ops: map[string]*Entry{}, failed: map[string]LoadFailure{}, subs: map[uint64]func(){}}
}

var defaultRegistry = NewRegistry()

// Default returns the package-level registry that Register fills: the
// built-in operations register themselves there from init functions.
func Default() *Registry { return defaultRegistry }

// Register adds a built-in operation to the default registry. It is meant
// for init functions and panics when the spec is invalid or the name is
// taken, like http.Handle: both are programming errors.
func Register(op Operation) {
	if err := defaultRegistry.Add(op, SourceBuiltin); err != nil {
		panic(err)
	}
}

// ErrExists reports an Add of a name that is already registered.
var ErrExists = errors.New("operations: operation already registered")

// Add registers op from source. It fails when the spec is invalid or the
// name is taken. A load failure recorded for the same source or name is
// cleared.
func (r *Registry) Add(op Operation, source string) error {
	e, err := newEntry(op, source)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if _, taken := r.ops[e.Spec.Name]; taken {
		r.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrExists, e.Spec.Name)
	}
	r.putLocked(e)
	r.mu.Unlock()
	r.changed()
	return nil
}

// Replace registers op from source, replacing an operation of the same
// name if there is one (a reloaded script). A load failure recorded for
// the same source or name is cleared.
func (r *Registry) Replace(op Operation, source string) error {
	e, err := newEntry(op, source)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.putLocked(e)
	r.mu.Unlock()
	r.changed()
	return nil
}

func newEntry(op Operation, source string) (*Entry, error) {
	if op == nil {
		return nil, fmt.Errorf("operations: add: nil operation")
	}
	spec := op.Spec()
	c, err := newChecker(spec)
	if err != nil {
		return nil, err
	}
	return &Entry{Spec: spec, Source: source, Op: op, check: c}, nil
}

func (r *Registry) putLocked(e *Entry) {
	r.ops[e.Spec.Name] = e
	for src, f := range r.failed {
		if src == e.Source || f.Name == e.Spec.Name {
			delete(r.failed, src)
		}
	}
	r.version++
}

// Remove unregisters the operation name and reports whether it was there.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	_, ok := r.ops[name]
	delete(r.ops, name)
	if ok {
		r.version++
	}
	r.mu.Unlock()
	if ok {
		r.changed()
	}
	return ok
}

// SetFailed records that loading from f.Source failed. It replaces an
// earlier failure of the same source. It does not remove an operation of
// the same name that loaded before: call Remove for that.
func (r *Registry) SetFailed(f LoadFailure) {
	if f.Time.IsZero() {
		f.Time = time.Now()
	}
	r.mu.Lock()
	r.failed[f.Source] = f
	r.version++
	r.mu.Unlock()
	r.changed()
}

// ClearFailed forgets the load failure of source (the file was deleted).
func (r *Registry) ClearFailed(source string) {
	r.mu.Lock()
	_, ok := r.failed[source]
	delete(r.failed, source)
	if ok {
		r.version++
	}
	r.mu.Unlock()
	if ok {
		r.changed()
	}
}

// Get returns the entry of the operation name.
func (r *Registry) Get(name string) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.ops[name]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Failure returns the load failure recorded under an operation name.
func (r *Registry) Failure(name string) (LoadFailure, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, f := range r.failed {
		if f.Name == name {
			return f, true
		}
	}
	return LoadFailure{}, false
}

// List returns every operation, sorted by category then name.
func (r *Registry) List() []Entry {
	r.mu.RLock()
	out := make([]Entry, 0, len(r.ops))
	for _, e := range r.ops {
		out = append(out, *e)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Spec.Category, b.Spec.Category), cmp.Compare(a.Spec.Name, b.Spec.Name))
	})
	return out
}

// Failures returns the load failures, sorted by source.
func (r *Registry) Failures() []LoadFailure {
	r.mu.RLock()
	out := make([]LoadFailure, 0, len(r.failed))
	for _, f := range r.failed {
		out = append(out, f)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b LoadFailure) int { return cmp.Compare(a.Source, b.Source) })
	return out
}

// Version increases with every change, so a surface can tell that its
// copy of the catalog is stale.
func (r *Registry) Version() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.version
}

// OnChange calls fn after every change of the registry (from the goroutine
// that made it; fn must not block). The returned func unsubscribes.
func (r *Registry) OnChange(fn func()) (cancel func()) {
	r.mu.Lock()
	r.subSeq++
	id := r.subSeq
	r.subs[id] = fn
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.subs, id)
		r.mu.Unlock()
	}
}

func (r *Registry) changed() {
	r.mu.RLock()
	fns := make([]func(), 0, len(r.subs))
	for _, fn := range r.subs {
		fns = append(fns, fn)
	}
	r.mu.RUnlock()
	for _, fn := range fns {
		fn()
	}
}

// Lookup returns the entry of name, or an *Error saying why it cannot run:
// CodeUnknownOperation (404) or CodeLoadError (422) for a broken one.
func (r *Registry) Lookup(name string) (Entry, error) {
	if e, ok := r.Get(name); ok {
		return e, nil
	}
	if f, ok := r.Failure(name); ok {
		return Entry{}, (&Error{Code: CodeLoadError, Message: fmt.Sprintf("operation %s failed to load: %s", name, f.Error)}).
			With("operation", name).With("source", f.Source).
			Fix(fmt.Sprintf("fix %s; it is reloaded when saved", f.Source))
	}
	return Entry{}, (&Error{Code: CodeUnknownOperation, Message: fmt.Sprintf("no operation named %s", quote(name))}).
		With("operation", clip(name, 64)).
		Fix("list the operations with `clusterlab op list`")
}

// Run validates raw parameters and runs the operation name with them: the
// framework's whole contract in one call. It bounds the run by the spec's
// timeout (DefaultTimeout without one), refuses simulator-only operations
// when env has no simulator, recovers a panic, and returns every failure as
// an *Error (see AsError).
func (r *Registry) Run(ctx context.Context, env *Env, name string, raw map[string]any) (any, error) {
	e, err := r.Lookup(name)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, env, raw)
}

// Validate checks raw parameters against the entry's spec; see
// ValidateParams.
func (e Entry) Validate(env *Env, raw map[string]any) (Params, error) {
	if e.check == nil {
		return ValidateParams(e.Spec, raw, env)
	}
	return e.check.validate(raw, knownNodes(env))
}

// Run validates raw and runs the entry's operation; see Registry.Run.
func (e Entry) Run(ctx context.Context, env *Env, raw map[string]any) (any, error) {
	spec := e.Spec
	if spec.SimulatorOnly && (env == nil || env.Sim == nil) {
		return nil, (&Error{Code: CodeSimulatorOnly, Message: fmt.Sprintf("%s needs the embedded simulator; this clusterlab is connected to a real cluster", spec.Name)}).
			With("operation", spec.Name).
			Fix("fault injection works on simulated clusters only: start one with `clusterlab serve`, or act on the real node yourself")
	}
	params, err := e.Validate(env, raw)
	if err != nil {
		return nil, err
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	res, err := safeExecute(ctx, e.Op, env, params)
	if err != nil {
		oe := AsError(err, env)
		if oe.Code == CodeTimeout && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			oe = (&Error{Code: CodeTimeout, Message: fmt.Sprintf("%s did not finish within %s", spec.Name, timeout), Err: err, Details: oe.Details}).
				With("timeout", timeout.String()).
				Fix("retry; if it keeps timing out, check the nodes' state with `clusterlab op run list_nodes`")
		}
		env.logger().Debug("operation failed", "op", spec.Name, "code", oe.Code, "err", oe.Message, "elapsed", time.Since(start))
		return nil, oe
	}
	return res, nil
}

func safeExecute(ctx context.Context, op Operation, env *Env, params Params) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			env.logger().Error("operation panicked", "op", op.Spec().Name, "panic", p, "stack", string(debug.Stack()))
			res, err = nil, (&Error{Code: CodeInternal, Message: fmt.Sprintf("%s failed: internal error (panic: %s)", op.Spec().Name, clip(fmt.Sprint(p), 200))}).
				Fix("this is a bug in the operation; the app kept running. Report it with the app's log")
		}
	}()
	return op.Execute(ctx, env, params)
}
