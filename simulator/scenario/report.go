package scenario

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the outcome of one Run.
type Report struct {
	// Name and Path identify the scenario.
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// Seed is the seed the run used; with the file it replays the run.
	Seed int64 `json:"seed"`
	// Passed is true when every step succeeded.
	Passed bool `json:"passed"`
	// Steps holds the setup (Index 0: starting the initial nodes) and then
	// every step that ran, in order. Steps after a failure do not run.
	Steps []StepResult `json:"steps"`
	// Duration is the wall time of the whole run.
	Duration time.Duration `json:"duration"`
	// seedFlag is set when RunOptions.Seed overrode the file's seed.
	seedFlag bool
}

// StepResult is the outcome of one step.
type StepResult struct {
	// Index is the step's 1-based position in the file; 0 for the setup.
	Index int `json:"index"`
	// Kind is the step's kind ("crash"); "setup" for the setup.
	Kind string `json:"kind"`
	// Summary is the one-line description printed for the step.
	Summary string `json:"summary"`
	// Line is the step's line in the file.
	Line int `json:"line,omitempty"`
	// OK is true when the step succeeded.
	OK bool `json:"ok"`
	// Duration is how long the step took.
	Duration time.Duration `json:"duration"`
	// Note says what a successful step produced (a PID, a placement).
	Note string `json:"note,omitempty"`
	// Expected and Seen describe a failed condition: what had to hold and
	// what the cluster looked like when the step gave up.
	Expected string `json:"expected,omitempty"`
	Seen     string `json:"seen,omitempty"`
	// Error says why a step that is not a condition failed.
	Error string `json:"error,omitempty"`
}

// Failed returns the step that failed, or nil when the run passed.
func (r *Report) Failed() *StepResult {
	for i := range r.Steps {
		if !r.Steps[i].OK {
			return &r.Steps[i]
		}
	}
	return nil
}

// Failure describes the failure in one paragraph ("" when the run
// passed): which step, what was expected, what was seen, and the seed.
func (r *Report) Failure() string {
	f := r.Failed()
	if f == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s failed at %s", r.Name, f.where())
	if f.Expected != "" {
		fmt.Fprintf(&b, ": expected %s; seen %s", f.Expected, f.Seen)
	}
	if f.Error != "" {
		fmt.Fprintf(&b, ": %s", f.Error)
	}
	fmt.Fprintf(&b, " (%s)", r.replay())
	return b.String()
}

// where names a step: "step 4 (expect process_count ..., line 23)".
func (s *StepResult) where() string {
	if s.Index == 0 {
		return "setup (" + s.Summary + ")"
	}
	if s.Line > 0 {
		return fmt.Sprintf("step %d (%s, line %d)", s.Index, s.Summary, s.Line)
	}
	return fmt.Sprintf("step %d (%s)", s.Index, s.Summary)
}

// replay is the seed line: "seed 42 — replay with: clusterlab scenario run FILE".
func (r *Report) replay() string {
	file := r.Path
	if file == "" {
		file = "FILE"
	}
	if r.seedFlag {
		return fmt.Sprintf("seed %d — replay with: clusterlab scenario run %s --seed %d", r.Seed, file, r.Seed)
	}
	return fmt.Sprintf("seed %d — replay with: clusterlab scenario run %s", r.Seed, file)
}

// printer writes the run's progress.
type printer struct {
	w     io.Writer
	width int
}

func newPrinter(w io.Writer, steps int) *printer {
	if w == nil {
		w = io.Discard
	}
	return &printer{w: w, width: max(2, len(fmt.Sprint(steps)))}
}

func (p *printer) header(sc *Scenario, seed int64) {
	fmt.Fprintf(p.w, "scenario %s", sc.Name)
	if sc.Description != "" {
		fmt.Fprintf(p.w, ": %s", oneLine(sc.Description))
	}
	fmt.Fprintf(p.w, "\nseed %d, %d nodes, profile %s, %d steps\n", seed, sc.Nodes, sc.Profile, len(sc.Steps))
}

// maxLineSummary cuts long step summaries (nested conditions) in the
// progress lines; the report and a failure keep them whole.
const maxLineSummary = 110

func (p *printer) start(index int, summary string) {
	if r := []rune(summary); len(r) > maxLineSummary {
		summary = string(r[:maxLineSummary-1]) + "…"
	}
	fmt.Fprintf(p.w, "[%*d] %s ... ", p.width, index, summary)
}

func (p *printer) result(res StepResult) {
	if res.OK {
		fmt.Fprintf(p.w, "ok (%s)", seconds(res.Duration))
		if res.Note != "" {
			fmt.Fprintf(p.w, " → %s", res.Note)
		}
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "FAILED (%s)\n", seconds(res.Duration))
	pad := strings.Repeat(" ", p.width+3)
	if res.Expected != "" {
		fmt.Fprintf(p.w, "%sexpected: %s\n%sseen:     %s\n", pad, res.Expected, pad, res.Seen)
	}
	if res.Error != "" {
		fmt.Fprintf(p.w, "%serror: %s\n", pad, res.Error)
	}
}

func (p *printer) footer(r *Report) {
	if f := r.Failed(); f != nil {
		fmt.Fprintf(p.w, "FAILED at %s after %s\n", f.where(), seconds(r.Duration))
	} else {
		fmt.Fprintf(p.w, "PASSED: %d steps in %s\n", len(r.Steps)-1, seconds(r.Duration))
	}
	fmt.Fprintln(p.w, r.replay())
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
