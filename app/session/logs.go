package session

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// The append-only logs of a project (operation history, saved traces,
// alerts) are sub-buckets keyed by 8-byte big-endian sequence numbers, so
// a cursor walks them oldest to newest. Each append is one transaction
// that also drops the oldest entries beyond the store's bound.

const (
	maxOperationLen = 200
	maxErrorLen     = 4096
	maxIDLen        = 200
)

// OperationRecord is one operation run from the palette, the CLI or the
// API, kept so it can be shown and re-run.
type OperationRecord struct {
	// ID is assigned by AppendHistory (increasing per project).
	ID uint64 `json:"id"`
	// Time is when the operation started (default: when appended).
	Time time.Time `json:"time"`
	// Operation is the operation's name ("kill_process").
	Operation string `json:"operation"`
	// Params are the parameters it ran with.
	Params map[string]any `json:"params,omitempty"`
	// OK says it succeeded.
	OK bool `json:"ok"`
	// Error is the error message when it failed (cut to 4 KiB).
	Error string `json:"error,omitempty"`
	// Code is the error's code (operations.Error.Code) when it failed.
	Code string `json:"code,omitempty"`
	// Source says where it was run from: palette, cli or api.
	Source string `json:"source,omitempty"`
	// DurationMS is how long it took, in milliseconds.
	DurationMS float64 `json:"duration_ms"`
}

// SavedTrace is a trace saved under a name.
type SavedTrace struct {
	// Name names the trace (unique in a project: saving again replaces).
	Name string `json:"name"`
	// SavedAt is when it was saved.
	SavedAt time.Time `json:"saved_at"`
	// Data is the trace as the tracing API returned it.
	Data json.RawMessage `json:"data"`
}

// seqKey encodes a sequence number as a bucket key.
func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// keySeq decodes a bucket key; ok is false for a key of the wrong size.
func keySeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// seqWhere names a log entry in errors.
func seqWhere(project string, bucket []byte, k []byte) string {
	if seq, ok := keySeq(k); ok {
		return fmt.Sprintf("project %q bucket %q key %d", project, bucket, seq)
	}
	return fmt.Sprintf("project %q bucket %q key %q", project, bucket, k)
}

// trim deletes the oldest entries of b until at most max remain; onDelete
// (if not nil) sees each entry before it goes.
func trim(b *bolt.Bucket, max int, onDelete func(k, v []byte) error) error {
	n := 0
	if err := b.ForEach(func(_, _ []byte) error { n++; return nil }); err != nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil && n > max; k, v = c.First() {
		if onDelete != nil {
			if err := onDelete(k, v); err != nil {
				return err
			}
		}
		if err := c.Delete(); err != nil {
			return err
		}
		n--
	}
	return nil
}

// newest walks b from the newest entry back, at most limit entries
// (limit <= 0: all), calling fn for each.
func newest(b *bolt.Bucket, limit int, fn func(k, v []byte)) {
	if b == nil {
		return
	}
	c := b.Cursor()
	n := 0
	for k, v := c.Last(); k != nil && (limit <= 0 || n < limit); k, v = c.Prev() {
		if v == nil { // a nested bucket: not ours
			continue
		}
		fn(k, v)
		n++
	}
}

// checkText validates a short text field.
func checkText(field, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	case len(v) > max:
		return fmt.Errorf("%w: %s is %d bytes, above %d", ErrInvalid, field, len(v), max)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	return nil
}

// AppendHistory adds rec to the project's operation history (dropping the
// oldest beyond OpenOptions.MaxHistory) in one transaction. rec.ID is
// assigned; a zero Time becomes now; an Error longer than 4 KiB is cut.
func (p *Project) AppendHistory(rec OperationRecord) error {
	if err := checkText("operation", rec.Operation, maxOperationLen, true); err != nil {
		return fmt.Errorf("session: append history: %w", err)
	}
	if err := checkText("code", rec.Code, maxOperationLen, false); err != nil {
		return fmt.Errorf("session: append history: %w", err)
	}
	if err := checkText("source", rec.Source, maxOperationLen, false); err != nil {
		return fmt.Errorf("session: append history: %w", err)
	}
	if len(rec.Error) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(rec.Error[cut]) {
			cut--
		}
		rec.Error = rec.Error[:cut] + "…"
	}
	rec.Error = strings.ToValidUTF8(rec.Error, "?")
	if rec.DurationMS < 0 || rec.DurationMS != rec.DurationMS {
		rec.DurationMS = 0
	}
	err := p.write(func(pb *bolt.Bucket, now time.Time) error {
		b, err := pb.CreateBucketIfNotExists(bucketHistory)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		rec.ID = seq
		if rec.Time.IsZero() {
			rec.Time = now
		}
		raw, err := schemaHistory.encode(rec)
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(seq), raw); err != nil {
			return err
		}
		return trim(b, p.s.opts.MaxHistory, nil)
	})
	if err != nil {
		return fmt.Errorf("session: append history of project %q: %w", p.name, err)
	}
	return nil
}

// History returns up to limit operation records, newest first (limit <= 0:
// all kept). Damaged records are left out and reported in the error
// (ErrCorrupt, naming each key) next to the records that could be read.
func (p *Project) History(limit int) ([]OperationRecord, error) {
	var out []OperationRecord
	var bad []error
	err := p.read(func(pb *bolt.Bucket) error {
		if pb == nil {
			return nil
		}
		newest(pb.Bucket(bucketHistory), limit, func(k, v []byte) {
			var rec OperationRecord
			if err := schemaHistory.decode(v, seqWhere(p.name, bucketHistory, k), &rec); err != nil {
				bad = append(bad, err)
				return
			}
			out = append(out, rec)
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: history of project %q: %w", p.name, err)
	}
	return out, joinBad(bad)
}

// joinBad joins the errors of damaged entries, nil when there are none.
func joinBad(bad []error) error {
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("session: %d damaged entries: %w", len(bad), errors.Join(bad...))
}

// SaveTrace saves data (valid JSON, at most OpenOptions.MaxTraceBytes)
// under name, replacing a trace saved under the same name, and drops the
// oldest traces beyond OpenOptions.MaxTraces.
func (p *Project) SaveTrace(name string, data json.RawMessage) error {
	if err := checkText("trace name", name, maxIDLen, true); err != nil {
		return fmt.Errorf("session: save trace: %w", err)
	}
	if len(data) > p.s.opts.MaxTraceBytes {
		return fmt.Errorf("session: save trace %q: %w: %d bytes, above the limit of %d", name, ErrInvalid, len(data), p.s.opts.MaxTraceBytes)
	}
	if !json.Valid(data) {
		return fmt.Errorf("session: save trace %q: %w: the data is not valid JSON", name, ErrInvalid)
	}
	err := p.write(func(pb *bolt.Bucket, now time.Time) error {
		b, err := pb.CreateBucketIfNotExists(bucketTraces)
		if err != nil {
			return err
		}
		if k := findTrace(b, name); k != nil {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		raw, err := schemaTrace.encode(SavedTrace{Name: name, SavedAt: now, Data: data})
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(seq), raw); err != nil {
			return err
		}
		return trim(b, p.s.opts.MaxTraces, nil)
	})
	if err != nil {
		return fmt.Errorf("session: save trace %q in project %q: %w", name, p.name, err)
	}
	return nil
}

// traceName is the part of a stored trace read to find it by name.
type traceName struct {
	Name string `json:"name"`
}

// findTrace returns the key of the trace saved under name, nil if none.
func findTrace(b *bolt.Bucket, name string) []byte {
	var found []byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var tn traceName
		if schemaTrace.decode(v, "", &tn) == nil && tn.Name == name {
			found = append([]byte(nil), k...)
		}
	}
	return found
}

// Traces returns the saved traces, newest first. Damaged entries are left
// out and reported in the error (ErrCorrupt) next to the others.
func (p *Project) Traces() ([]SavedTrace, error) {
	var out []SavedTrace
	var bad []error
	err := p.read(func(pb *bolt.Bucket) error {
		if pb == nil {
			return nil
		}
		newest(pb.Bucket(bucketTraces), 0, func(k, v []byte) {
			var t SavedTrace
			if err := schemaTrace.decode(v, seqWhere(p.name, bucketTraces, k), &t); err != nil {
				bad = append(bad, err)
				return
			}
			// Data aliases bbolt's memory map: copy before the tx ends.
			t.Data = append(json.RawMessage(nil), t.Data...)
			out = append(out, t)
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: traces of project %q: %w", p.name, err)
	}
	return out, joinBad(bad)
}

// Trace returns the trace saved under name (ErrNotFound if none).
func (p *Project) Trace(name string) (SavedTrace, error) {
	var t SavedTrace
	err := p.read(func(pb *bolt.Bucket) error {
		var b *bolt.Bucket
		if pb != nil {
			b = pb.Bucket(bucketTraces)
		}
		if b == nil {
			return fmt.Errorf("%w: trace %q", ErrNotFound, name)
		}
		k := findTrace(b, name)
		if k == nil {
			return fmt.Errorf("%w: trace %q", ErrNotFound, name)
		}
		return schemaTrace.decode(b.Get(k), seqWhere(p.name, bucketTraces, k), &t)
	})
	if err != nil {
		return SavedTrace{}, fmt.Errorf("session: trace %q of project %q: %w", name, p.name, err)
	}
	return t, nil
}

// DeleteTrace removes the trace saved under name (ErrNotFound if none).
func (p *Project) DeleteTrace(name string) error {
	err := p.write(func(pb *bolt.Bucket, _ time.Time) error {
		b := pb.Bucket(bucketTraces)
		var k []byte
		if b != nil {
			k = findTrace(b, name)
		}
		if k == nil {
			return fmt.Errorf("%w: trace %q", ErrNotFound, name)
		}
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("session: delete trace %q of project %q: %w", name, p.name, err)
	}
	return nil
}

// alertHead is the part of an alert the store reads: its id and state.
type alertHead struct {
	ID    *string `json:"id"`
	State *string `json:"state"`
}

// checkAlert validates an alert record and returns its id.
func checkAlert(raw json.RawMessage) (string, error) {
	if len(raw) > MaxRecordBytes {
		return "", fmt.Errorf("%w: alert is %d bytes, above %d", ErrInvalid, len(raw), MaxRecordBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return "", fmt.Errorf("%w: an alert is a JSON object", ErrInvalid)
	}
	var h alertHead
	if err := json.Unmarshal(trimmed, &h); err != nil {
		return "", fmt.Errorf("%w: alert: %v (want string fields id and state)", ErrInvalid, err)
	}
	if h.ID == nil || h.State == nil {
		return "", fmt.Errorf("%w: an alert needs string fields id and state", ErrInvalid)
	}
	if err := checkText("alert id", *h.ID, maxIDLen, true); err != nil {
		return "", err
	}
	if err := checkText("alert state", *h.State, maxOperationLen, true); err != nil {
		return "", err
	}
	return *h.ID, nil
}

// AppendAlert adds an alert record (a JSON object with string fields "id"
// and "state"; other fields are kept as they are) to the project's alert
// history, dropping the oldest beyond OpenOptions.MaxAlerts. Appending an
// id that is already kept replaces that record in place.
func (p *Project) AppendAlert(alert json.RawMessage) error {
	id, err := checkAlert(alert)
	if err != nil {
		return fmt.Errorf("session: append alert: %w", err)
	}
	alert = append(json.RawMessage(nil), bytes.TrimSpace(alert)...)
	err = p.write(func(pb *bolt.Bucket, _ time.Time) error {
		b, idx, err := alertBuckets(pb)
		if err != nil {
			return err
		}
		raw, err := schemaAlert.encode(alert)
		if err != nil {
			return err
		}
		if k := idx.Get([]byte(id)); k != nil && b.Get(k) != nil {
			return b.Put(k, raw)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		k := seqKey(seq)
		if err := b.Put(k, raw); err != nil {
			return err
		}
		if err := idx.Put([]byte(id), k); err != nil {
			return err
		}
		return trim(b, p.s.opts.MaxAlerts, func(k, v []byte) error { return dropAlertIndex(idx, k, v) })
	})
	if err != nil {
		return fmt.Errorf("session: append alert %q to project %q: %w", id, p.name, err)
	}
	return nil
}

func alertBuckets(pb *bolt.Bucket) (alerts, ids *bolt.Bucket, err error) {
	if alerts, err = pb.CreateBucketIfNotExists(bucketAlerts); err != nil {
		return nil, nil, err
	}
	if ids, err = pb.CreateBucketIfNotExists(bucketAlertIDs); err != nil {
		return nil, nil, err
	}
	return alerts, ids, nil
}

// dropAlertIndex removes the index entry of the alert stored at k.
func dropAlertIndex(idx *bolt.Bucket, k, v []byte) error {
	var a json.RawMessage
	if schemaAlert.decode(v, "", &a) == nil {
		var h alertHead
		if json.Unmarshal(a, &h) == nil && h.ID != nil {
			if got := idx.Get([]byte(*h.ID)); bytes.Equal(got, k) {
				return idx.Delete([]byte(*h.ID))
			}
		}
	}
	// A damaged record: find its index entry by value.
	var stale [][]byte
	_ = idx.ForEach(func(id, seq []byte) error {
		if bytes.Equal(seq, k) {
			stale = append(stale, append([]byte(nil), id...))
		}
		return nil
	})
	for _, id := range stale {
		if err := idx.Delete(id); err != nil {
			return err
		}
	}
	return nil
}

// UpdateAlert sets the "state" field of the alert with id (ErrNotFound if
// it is not kept), leaving its other fields as they are.
func (p *Project) UpdateAlert(id, state string) error {
	if err := checkText("alert id", id, maxIDLen, true); err != nil {
		return fmt.Errorf("session: update alert: %w", err)
	}
	if err := checkText("alert state", state, maxOperationLen, true); err != nil {
		return fmt.Errorf("session: update alert %q: %w", id, err)
	}
	err := p.write(func(pb *bolt.Bucket, _ time.Time) error {
		b, idx := pb.Bucket(bucketAlerts), pb.Bucket(bucketAlertIDs)
		if b == nil || idx == nil {
			return fmt.Errorf("%w: alert %q", ErrNotFound, id)
		}
		k := idx.Get([]byte(id))
		v := b.Get(k)
		if k == nil || v == nil {
			return fmt.Errorf("%w: alert %q", ErrNotFound, id)
		}
		var a json.RawMessage
		if err := schemaAlert.decode(v, seqWhere(p.name, bucketAlerts, k), &a); err != nil {
			return err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(a, &fields); err != nil {
			return fmt.Errorf("%w: alert at %s: %v", ErrCorrupt, seqWhere(p.name, bucketAlerts, k), err)
		}
		st, _ := json.Marshal(state)
		fields["state"] = st
		updated, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		raw, err := schemaAlert.encode(json.RawMessage(updated))
		if err != nil {
			return err
		}
		return b.Put(k, raw)
	})
	if err != nil {
		return fmt.Errorf("session: update alert %q of project %q: %w", id, p.name, err)
	}
	return nil
}

// Alerts returns up to limit alert records, newest first (limit <= 0: all
// kept). Damaged records are left out and reported in the error
// (ErrCorrupt) next to the others.
func (p *Project) Alerts(limit int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	var bad []error
	err := p.read(func(pb *bolt.Bucket) error {
		if pb == nil {
			return nil
		}
		newest(pb.Bucket(bucketAlerts), limit, func(k, v []byte) {
			var a json.RawMessage
			if err := schemaAlert.decode(v, seqWhere(p.name, bucketAlerts, k), &a); err != nil {
				bad = append(bad, err)
				return
			}
			out = append(out, append(json.RawMessage(nil), a...))
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: alerts of project %q: %w", p.name, err)
	}
	return out, joinBad(bad)
}
