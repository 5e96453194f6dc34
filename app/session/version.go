package session

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Every value in the store is JSON wrapped in an envelope that names its
// schema version:
//
//	{"version": 1, "data": { ...the value... }}
//
// When a value's shape changes, its schema's version goes up by one and a
// Migration from the previous version is registered in the schema; reads
// apply the chain of migrations (N→N+1→…→current) before decoding, so a
// file written by an older clusterlab opens in a newer one. A value whose
// version is above the schema's current one was written by a newer
// clusterlab and is refused with ErrNewerVersion instead of being misread
// (or overwritten by a write that would drop its new fields).

// envelope is the stored form of every value.
type envelope struct {
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// Migration turns the JSON data of one version into the next version's.
// It receives the value's data (not the envelope) and must not keep it.
type Migration func(data json.RawMessage) (json.RawMessage, error)

// schema is one kind of stored value: its current version and the
// migrations that lead to it. Schemas are package-level values built at
// init and read-only afterwards.
type schema struct {
	// kind names the value in errors ("session", "operation record").
	kind string
	// version is the version this clusterlab writes.
	version int
	// migrations maps a version N to the migration N→N+1.
	migrations map[int]Migration
	// maxBytes bounds an encoded value of this kind.
	maxBytes int
}

// The schemas of this version of clusterlab. To change a value's shape:
// bump version, and add migrations[old] converting the old data.
var (
	schemaMeta    = &schema{kind: "project info", version: 1, maxBytes: MaxRecordBytes}
	schemaSession = &schema{kind: "session", version: 1, maxBytes: MaxSessionBytes}
	schemaHistory = &schema{kind: "operation record", version: 1, maxBytes: MaxRecordBytes}
	schemaTrace   = &schema{kind: "saved trace", version: 1, maxBytes: MaxValueBytes}
	schemaAlert   = &schema{kind: "alert", version: 1, maxBytes: MaxRecordBytes}
	schemaRules   = &schema{kind: "health rules", version: 1, maxBytes: MaxSessionBytes}
)

// encode wraps v at the schema's current version.
func (sc *schema) encode(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", ErrInvalid, sc.kind, err)
	}
	b, err := json.Marshal(envelope{Version: sc.version, Data: data})
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", ErrInvalid, sc.kind, err)
	}
	if len(b) > sc.maxBytes {
		return nil, fmt.Errorf("%w: the %s is %d bytes encoded, above the limit of %d", ErrInvalid, sc.kind, len(b), sc.maxBytes)
	}
	return b, nil
}

// decode unwraps raw (read from the store at where, e.g. `project "p" key
// "session"`), migrates it to the current version and decodes it into
// out. Damaged bytes give ErrCorrupt, a newer version ErrNewerVersion;
// both name where.
func (sc *schema) decode(raw []byte, where string, out any) error {
	data, err := sc.upgrade(raw, where)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %s at %s: cannot decode version %d data: %v", ErrCorrupt, sc.kind, where, sc.version, err)
	}
	return nil
}

// upgrade returns raw's data migrated to the current version.
func (sc *schema) upgrade(raw []byte, where string) (json.RawMessage, error) {
	if len(raw) > sc.maxBytes {
		return nil, fmt.Errorf("%w: %s at %s is %d bytes, above the limit of %d", ErrCorrupt, sc.kind, where, len(raw), sc.maxBytes)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: %s at %s is not valid JSON: %v", ErrCorrupt, sc.kind, where, err)
	}
	switch {
	case env.Version <= 0:
		return nil, fmt.Errorf("%w: %s at %s has no valid version (got %d)", ErrCorrupt, sc.kind, where, env.Version)
	case env.Version > sc.version:
		return nil, fmt.Errorf("%w: %s at %s has version %d, this clusterlab reads up to version %d; upgrade clusterlab or use another --data-dir", ErrNewerVersion, sc.kind, where, env.Version, sc.version)
	}
	data := env.Data
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, fmt.Errorf("%w: %s at %s has no data", ErrCorrupt, sc.kind, where)
	}
	for v := env.Version; v < sc.version; v++ {
		m := sc.migrations[v]
		if m == nil {
			return nil, fmt.Errorf("%w: %s at %s: no migration from version %d to %d", ErrCorrupt, sc.kind, where, v, v+1)
		}
		next, err := m(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s at %s: migrating version %d to %d: %v", ErrCorrupt, sc.kind, where, v, v+1, err)
		}
		if !json.Valid(next) {
			return nil, fmt.Errorf("%w: %s at %s: migration from version %d produced invalid JSON", ErrCorrupt, sc.kind, where, v)
		}
		data = next
	}
	return data, nil
}
