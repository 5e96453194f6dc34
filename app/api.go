package app

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clusterlab/clusterlab/operations"
)

// APIPrefix is where every API route lives.
const APIPrefix = "/api/v1"

// ConfirmHeader must be set to "true" on a POST that runs a destructive
// operation; without it the API answers 428 confirmation_required. (DELETE
// routes are confirmation enough.)
const ConfirmHeader = "X-Clusterlab-Confirm"

// TokenCookie is the cookie the API sets when the page is opened with a
// valid ?token=, so that the browser's later requests are authorised.
const TokenCookie = "clusterlab_token"

// APIConfig tunes the HTTP API.
type APIConfig struct {
	// Token is the bearer token every API route requires. Empty disables
	// authentication (the desktop window, which serves the API in-process).
	Token string
	// Frontend, when set, is served at / (the built frontend, frontend/dist);
	// otherwise / shows a small "API is up" page.
	Frontend fs.FS
	// Version is reported by /api/v1/info.
	Version string
	// Heartbeat is how often an idle event stream gets a comment line to
	// keep proxies from closing it; default 15 s.
	Heartbeat time.Duration
	// Logger receives request logs; default the backend's.
	Logger *slog.Logger
}

// API is the HTTP API: one handler generated from the operations registry,
// with resource routes for the common reads and deletes, the OpenAPI
// document, and the event stream. Every /api route checks the method first
// (405), then the bearer token (401), then runs.
type API struct {
	src       backendSource
	registry  *operations.Registry
	hub       *Hub
	observer  runObserver
	cfg       APIConfig
	tokenHash *[32]byte
	mux       *http.ServeMux
	log       *slog.Logger

	catalogMu        sync.Mutex
	catalogVersion   uint64
	catalogSimulated bool
	catalogDoc       []byte

	openapiMu      sync.Mutex
	openapiVersion uint64
	openapiDoc     []byte
}

// route is one path of the route table with its handler per method.
type route struct {
	pattern string
	methods map[string]http.HandlerFunc
}

// resource maps a REST route onto an operation: path wildcards become
// parameters of the same name, query parameters the others.
type resource struct {
	method, pattern, op string
	summary             string
}

// resources is the table of resource routes. A route whose operation is
// not registered answers 404 unknown_operation and is left out of the
// OpenAPI document.
var resources = []resource{
	{http.MethodGet, "/nodes", "list_nodes", "List the members"},
	{http.MethodGet, "/nodes/{node}", "node_info", "Show one node"},
	{http.MethodGet, "/topology", "cluster_topology", "The cluster as a graph"},
	{http.MethodGet, "/processes", "list_processes", "List processes across the cluster"},
	{http.MethodGet, "/processes/{pid...}", "process_info", "Show one process (pid as node/id, the slash may be escaped)"},
	{http.MethodDelete, "/processes/{pid...}", "kill_process", "Kill one process"},
	{http.MethodGet, "/registry", "registry_list", "List registered names"},
	{http.MethodGet, "/registry/{name...}", "registry_lookup", "Look a name up"},
	{http.MethodDelete, "/registry/{name...}", "registry_unregister", "Unregister a name"},
	{http.MethodGet, "/registry-conflicts", "registry_conflicts", "Name conflicts after partitions"},
	{http.MethodGet, "/supervisors", "supervisor_list", "List supervisors"},
	{http.MethodGet, "/supervisors/{supervisor}/children", "supervisor_children", "List a supervisor's children"},
	{http.MethodDelete, "/supervisors/{supervisor}/children/{id}", "supervisor_terminate_child", "Terminate a child"},
	{http.MethodGet, "/migrations", "supervisor_migrations", "Child migrations between nodes"},
	{http.MethodGet, "/sandboxes", "sandbox_list", "List sandboxes"},
	{http.MethodGet, "/sandboxes/{name}", "sandbox_info", "Show a sandbox with its processes per node"},
	{http.MethodDelete, "/sandboxes/{name}", "sandbox_destroy", "Destroy a sandbox and every process in it"},
	{http.MethodGet, "/traces", "trace_list", "List trace sessions"},
	{http.MethodGet, "/traces/{id...}", "trace_get", "Get a trace's events"},
	{http.MethodDelete, "/traces/{id...}", "trace_stop", "Stop a trace"},
}

// backendSource gives the API the backend a request runs on: one fixed
// backend, or the workbench's current one (which a mode switch replaces).
type backendSource interface {
	// acquire returns the current backend, kept open until release is
	// called (a switch closes the old backend once its requests are done).
	acquire() (b *Backend, release func())
}

// runObserver sees every operation run through the API (the workbench
// keeps the history and feeds the recorder with it).
type runObserver interface {
	operationRan(run apiRun)
}

// apiRun is one operation run through the API, as a runObserver sees it.
type apiRun struct {
	// Backend is the backend it ran on.
	Backend *Backend
	// Spec is the operation's spec.
	Spec operations.Spec
	// Params are the raw parameters as the client sent them.
	Params map[string]any
	// Source is the X-Clusterlab-Source header (palette, cli), or "".
	Source string
	// Result is the result of a successful run.
	Result any
	// Err is the error of a failed run.
	Err *operations.Error
	// Start is when it started; Elapsed how long it took.
	Start   time.Time
	Elapsed time.Duration
}

// SourceHeader names where a run comes from: "palette" for the UI's
// command palette, "cli" for `clusterlab op`. The history keeps every run
// from these, and only the changing operations from elsewhere.
const SourceHeader = "X-Clusterlab-Source"

type fixedBackend struct{ b *Backend }

func (f fixedBackend) acquire() (*Backend, func()) { return f.b, func() {} }

// NewAPI returns the HTTP API over one backend (an agent's, a test's).
// The workbench's API (Workbench.API) follows its mode switches instead.
func NewAPI(b *Backend, cfg APIConfig) *API {
	if cfg.Logger == nil {
		cfg.Logger = b.log
	}
	return newAPI(fixedBackend{b}, b.Registry, b.Hub, nil, cfg)
}

func newAPI(src backendSource, reg *operations.Registry, hub *Hub, obs runObserver, cfg APIConfig) *API {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{src: src, registry: reg, hub: hub, observer: obs, cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	if cfg.Token != "" {
		h := sha256.Sum256([]byte(cfg.Token))
		a.tokenHash = &h
	}
	for _, rt := range a.routes() {
		a.mux.HandleFunc(rt.pattern, a.dispatch(rt))
	}
	a.mux.HandleFunc(APIPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(w, r) {
			return
		}
		writeError(w, operations.Errorf(operations.CodeNotFound, "no API route %s %s", r.Method, clipPath(r.URL.Path)).
			Fix("see the routes in "+APIPrefix+"/openapi.json"))
	})
	a.mux.HandleFunc("/", a.serveFrontend)
	return a
}

// routes is the route table: the fixed routes, then the resource routes
// grouped by path.
func (a *API) routes() []route {
	rts := []route{
		{APIPrefix + "/operations", map[string]http.HandlerFunc{http.MethodGet: a.catalog}},
		{APIPrefix + "/operations/{name}", map[string]http.HandlerFunc{http.MethodGet: a.describe, http.MethodPost: a.run}},
		{APIPrefix + "/openapi.json", map[string]http.HandlerFunc{http.MethodGet: a.openapi}},
		{APIPrefix + "/events", map[string]http.HandlerFunc{http.MethodGet: a.events}},
		{APIPrefix + "/info", map[string]http.HandlerFunc{http.MethodGet: a.info}},
	}
	byPath := map[string]int{}
	for _, res := range resources {
		p := APIPrefix + res.pattern
		i, ok := byPath[p]
		if !ok {
			i = len(rts)
			byPath[p] = i
			rts = append(rts, route{p, map[string]http.HandlerFunc{}})
		}
		rts[i].methods[res.method] = a.resourceHandler(res)
	}
	return rts
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// dispatch checks the method, then the token, then calls the handler.
func (a *API) dispatch(rt route) http.HandlerFunc {
	allowed := make([]string, 0, len(rt.methods))
	for m := range rt.methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		h, ok := rt.methods[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			writeError(w, operations.Errorf(operations.CodeMethodNotAllowed, "%s does not accept %s (allowed: %s)", clipPath(r.URL.Path), clipPath(r.Method), allow))
			return
		}
		if !a.authorized(w, r) {
			return
		}
		h(w, r)
	}
}

// token extracts the client's token: the Authorization bearer, else the
// cookie, else the token query parameter (EventSource cannot set headers).
func token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(TokenCookie); err == nil {
		return c.Value
	}
	return r.URL.Query().Get("token")
}

func (a *API) validToken(tok string) bool {
	if a.tokenHash == nil {
		return true
	}
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], a.tokenHash[:]) == 1
}

func (a *API) authorized(w http.ResponseWriter, r *http.Request) bool {
	if a.validToken(token(r)) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="clusterlab"`)
	writeError(w, operations.Errorf(operations.CodeUnauthorized, "a valid bearer token is required").
		Fix("send `Authorization: Bearer <token>` with the token that `clusterlab serve` printed and wrote to its lock file; `clusterlab op` finds it by itself"))
	return false
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if ap, ok := v.(jsonAppender); ok {
		buf := getJSONBuffer()
		defer putJSONBuffer(buf)
		b, err := ap.AppendJSON(*buf)
		*buf = b
		if err == nil {
			writeJSONBytes(w, status, append(b, '\n'))
			return
		}
		writeError(w, &operations.Error{Code: operations.CodeInternal, Message: "the result does not encode as JSON: " + err.Error(), Err: err})
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, &operations.Error{Code: operations.CodeInternal, Message: "the result does not encode as JSON: " + err.Error(), Err: err})
		return
	}
	writeJSONBytes(w, status, buf.Bytes())
}

// writeJSONBytes writes an encoded JSON body with status.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	// The whole body is known: one write, without chunked framing.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// jsonAppender is a result that writes its own JSON without reflection:
// AppendJSON appends exactly what an encoding/json Encoder with
// SetEscapeHTML(false) writes for it, without the newline.
// builtin.ProcessList is one.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// jsonBuffers holds response buffers of jsonAppender results.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxPooledJSON bounds the buffers kept for reuse (a rare huge response
// does not stay in memory).
const maxPooledJSON = 1 << 20

func getJSONBuffer() *[]byte { return jsonBuffers.Get().(*[]byte) }

func putJSONBuffer(b *[]byte) {
	if cap(*b) > maxPooledJSON {
		return
	}
	*b = (*b)[:0]
	jsonBuffers.Put(b)
}

// writeRunResult writes RunResult{name, res, elapsed} through res's
// AppendJSON: the bytes writeJSON would write through encoding/json.
// It reports false (and writes nothing) when res cannot be written so.
func writeRunResult(w http.ResponseWriter, name string, res any, elapsed time.Duration) bool {
	ap, ok := res.(jsonAppender)
	if !ok || !plainJSONName(name) {
		return false
	}
	buf := getJSONBuffer()
	defer putJSONBuffer(buf)
	b := append(*buf, `{"operation":"`...)
	b = append(b, name...)
	b = append(b, `","result":`...)
	b, err := ap.AppendJSON(b)
	*buf = b
	if err != nil {
		writeError(w, &operations.Error{Code: operations.CodeInternal, Message: "the result does not encode as JSON: " + err.Error(), Err: err})
		return true
	}
	b = append(b, `,"elapsed_ms":`...)
	b = appendJSONFloat(b, float64(elapsed.Microseconds())/1000)
	b = append(b, "}\n"...)
	*buf = b
	writeJSONBytes(w, http.StatusOK, b)
	return true
}

// plainJSONName reports whether s is its own JSON string body (operation
// names are [a-z][a-z0-9_]*).
func plainJSONName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// appendJSONFloat appends f as encoding/json writes a finite float64.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// writeError writes the error envelope with the code's status.
func writeError(w http.ResponseWriter, e *operations.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status())
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(operations.Envelope{Error: e})
}

func clipPath(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// Catalog is the body of GET /api/v1/operations.
type Catalog struct {
	Version    uint64                    `json:"version"`
	Simulated  bool                      `json:"simulated"`
	Operations []operations.CatalogEntry `json:"operations"`
}

// catalog serves the catalog, encoded once per registry version.
func (a *API) catalog(w http.ResponseWriter, _ *http.Request) {
	b, release := a.src.acquire()
	simulated := b.Simulated()
	release()
	v := a.registry.Version()
	a.catalogMu.Lock()
	if a.catalogDoc == nil || a.catalogVersion != v || a.catalogSimulated != simulated {
		doc, err := json.Marshal(Catalog{Version: v, Simulated: simulated, Operations: a.registry.Catalog()})
		if err != nil {
			a.catalogMu.Unlock()
			writeError(w, &operations.Error{Code: operations.CodeInternal, Message: "encoding the catalog: " + err.Error(), Err: err})
			return
		}
		a.catalogDoc, a.catalogVersion, a.catalogSimulated = append(doc, '\n'), v, simulated
	}
	doc := a.catalogDoc
	a.catalogMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(doc)
}

func (a *API) describe(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e, err := a.registry.Lookup(name)
	if err != nil {
		oe := operations.AsError(err, nil)
		if oe.Code == operations.CodeLoadError {
			// A broken operation is still described, with its error.
			for _, c := range a.registry.Catalog() {
				if c.Name == name && c.LoadError != "" {
					writeJSON(w, http.StatusOK, c)
					return
				}
			}
		}
		writeError(w, oe)
		return
	}
	writeJSON(w, http.StatusOK, e.CatalogEntry())
}

// RunResult is the body of a successful POST /api/v1/operations/{name}.
type RunResult struct {
	Operation string  `json:"operation"`
	Result    any     `json:"result"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

func (a *API) run(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e, err := a.registry.Lookup(name)
	if err != nil {
		writeError(w, operations.AsError(err, nil))
		return
	}
	raw, oe := requestParams(w, r)
	if oe != nil {
		writeError(w, oe)
		return
	}
	if e.Spec.Destructive && !confirmed(r) {
		writeError(w, (&operations.Error{Code: operations.CodeConfirmationRequired,
			Message: fmt.Sprintf("%s is destructive and needs confirmation", name)}).
			With("operation", name).
			Fix(fmt.Sprintf("resend with the header `%s: true` (the CLI: `clusterlab op run %s ... --yes`)", ConfirmHeader, name)))
		return
	}
	a.runOp(w, r, e, raw, true)
}

func confirmed(r *http.Request) bool {
	v := strings.ToLower(strings.TrimSpace(r.Header.Get(ConfirmHeader)))
	return v == "true" || v == "yes" || v == "1"
}

// runOp runs an operation and writes its result (wrapped in RunResult
// when wrap) or its error.
func (a *API) runOp(w http.ResponseWriter, r *http.Request, e operations.Entry, raw map[string]any, wrap bool) {
	b, release := a.src.acquire()
	start := time.Now()
	res, err := e.Run(r.Context(), b.Env, raw)
	elapsed := time.Since(start)
	var oe *operations.Error
	if err != nil {
		oe = operations.AsError(err, b.Env)
	}
	release()
	if a.observer != nil {
		a.observer.operationRan(apiRun{Backend: b, Spec: e.Spec, Params: raw, Source: r.Header.Get(SourceHeader),
			Result: res, Err: oe, Start: start, Elapsed: elapsed})
	}
	if oe != nil {
		a.log.Debug("api: operation failed", "op", e.Spec.Name, "code", oe.Code, "status", oe.Status(), "elapsed", elapsed)
		writeError(w, oe)
		return
	}
	if !wrap {
		writeJSON(w, http.StatusOK, res)
		return
	}
	if writeRunResult(w, e.Spec.Name, res, elapsed) {
		return
	}
	writeJSON(w, http.StatusOK, RunResult{Operation: e.Spec.Name, Result: res, ElapsedMS: float64(elapsed.Microseconds()) / 1000})
}

// requestParams collects the raw parameters of a run: the query string,
// then the body (JSON object or form); a name given twice is an error.
func requestParams(w http.ResponseWriter, r *http.Request) (map[string]any, *operations.Error) {
	raw := queryParams(r.URL.Query())
	if r.Body == nil || r.Body == http.NoBody {
		return raw, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, operations.MaxParamsBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, operations.Errorf(operations.CodeTooLarge, "the request body is over %d bytes", operations.MaxParamsBytes)
		}
		return nil, operations.Errorf(operations.CodeBadRequest, "reading the request body: %v", err)
	}
	var fromBody map[string]any
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, operations.Errorf(operations.CodeBadRequest, "the form body does not parse: %v", err)
		}
		fromBody = queryParams(form)
	} else {
		m, err := operations.DecodeJSON(body)
		if err != nil {
			return nil, operations.AsError(err, nil)
		}
		fromBody = m
	}
	for k, v := range fromBody {
		if _, dup := raw[k]; dup {
			return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: fmt.Sprintf("parameter %q is given both in the query and in the body", clipPath(k))}).
				With("params", []operations.ParamError{{Param: clipPath(k), Message: "given twice"}})
		}
		raw[k] = v
	}
	return raw, nil
}

// queryParams turns query values into raw parameters: one value is a
// string, repeated values a list. The token parameter is the API's own.
func queryParams(q url.Values) map[string]any {
	raw := make(map[string]any, len(q))
	for k, vs := range q {
		if k == "token" || len(vs) == 0 {
			continue
		}
		if len(vs) == 1 {
			raw[k] = vs[0]
			continue
		}
		l := make([]any, len(vs))
		for i, v := range vs {
			l[i] = v
		}
		raw[k] = l
	}
	return raw
}

func (a *API) resourceHandler(res resource) http.HandlerFunc {
	var wildcards []string
	for _, seg := range strings.Split(res.pattern, "/") {
		if strings.HasPrefix(seg, "{") {
			wildcards = append(wildcards, strings.TrimSuffix(strings.Trim(seg, "{}"), "..."))
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		e, err := a.registry.Lookup(res.op)
		if err != nil {
			writeError(w, operations.AsError(err, nil))
			return
		}
		raw := queryParams(r.URL.Query())
		for _, wc := range wildcards {
			if _, dup := raw[wc]; dup {
				writeError(w, operations.Errorf(operations.CodeInvalidParams, "parameter %q is given both in the path and in the query", wc))
				return
			}
			raw[wc] = r.PathValue(wc)
		}
		a.runOp(w, r, e, raw, false)
	}
}

// Info is the body of GET /api/v1/info.
type Info struct {
	Version           string `json:"version"`
	Observer          string `json:"observer"`
	Simulated         bool   `json:"simulated"`
	Seed              int64  `json:"seed,omitempty"`
	OperationsVersion uint64 `json:"operations_version"`
	LastEventID       uint64 `json:"last_event_id"`
}

func (a *API) info(w http.ResponseWriter, _ *http.Request) {
	b, release := a.src.acquire()
	in := Info{Version: a.cfg.Version, Observer: b.Observer.Name(), Simulated: b.Simulated(),
		OperationsVersion: a.registry.Version(), LastEventID: a.hub.LastID()}
	if b.Sim != nil {
		in.Seed = b.Sim.Seed()
	}
	release()
	writeJSON(w, http.StatusOK, in)
}

func (a *API) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	var after uint64
	resume := false
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	if lastID != "" {
		id, err := strconv.ParseUint(strings.TrimSpace(lastID), 10, 64)
		if err != nil {
			writeError(w, operations.Errorf(operations.CodeBadRequest, "Last-Event-ID %q is not an event id", clipPath(lastID)))
			return
		}
		after, resume = id, true
	}
	var topics []string
	if t := r.URL.Query().Get("topics"); t != "" {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				topics = append(topics, s)
			}
		}
	}
	sub := a.hub.Subscribe(after, resume, topics...)
	defer sub.Cancel()
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The stream does not hold the backend: it outlives mode switches
	// (the hub is the workbench's), and a `session` event says when the
	// cluster behind it changed.
	b, release := a.src.acquire()
	hello, _ := json.Marshal(map[string]any{"last_event_id": a.hub.LastID(), "observer": b.Observer.Name(), "simulated": b.Simulated()})
	release()
	if _, err := fmt.Fprintf(w, "retry: 1000\nevent: hello\ndata: %s\n\n", hello); err != nil {
		return
	}
	for _, ev := range sub.Backlog {
		if writeEvent(w, ev) != nil {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(a.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return // hub closed, or this client fell behind: it resumes
			}
			if writeEvent(w, ev) != nil || rc.Flush() != nil {
				return
			}
		case <-beat.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func writeEvent(w io.Writer, ev Event) error {
	_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Topic, ev.Data)
	return err
}

const upPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>clusterlab</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>clusterlab</h1>
<p>The API is up. The web frontend is not built here (it is served from frontend/dist when present).</p>
<ul>
<li><a href="/api/v1/operations">/api/v1/operations</a>: the operation catalog</li>
<li><a href="/api/v1/openapi.json">/api/v1/openapi.json</a>: the OpenAPI document</li>
<li><a href="/api/v1/events">/api/v1/events</a>: the event stream (Server-Sent Events)</li>
</ul>
<p>From a terminal: <code>clusterlab op list</code></p>
</body></html>
`

// serveFrontend serves the built frontend, or a small page saying the API
// is up. Opening it with a valid ?token= sets the token cookie so that
// the page's own API requests are authorised.
func (a *API) serveFrontend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, operations.Errorf(operations.CodeMethodNotAllowed, "%s does not accept %s", clipPath(r.URL.Path), clipPath(r.Method)))
		return
	}
	if tok := r.URL.Query().Get("token"); tok != "" && a.tokenHash != nil && a.validToken(tok) {
		http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	if a.cfg.Frontend == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path != "/" {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, upPage)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" {
		p = "index.html"
	}
	if _, err := fs.Stat(a.cfg.Frontend, p); err != nil && !strings.Contains(p, ".") {
		// A client-side route: let the single-page app handle it.
		http.ServeFileFS(w, r, a.cfg.Frontend, "index.html")
		return
	}
	http.FileServerFS(a.cfg.Frontend).ServeHTTP(w, r)
}
