package session

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// HealthRules returns the project's health alert rules as the app saved
// them (a JSON array), ErrNotFound when it kept none (the defaults apply).
// The session package keeps them opaque: the health monitor validates them.
func (p *Project) HealthRules() (json.RawMessage, error) {
	var out json.RawMessage
	err := p.read(func(b *bolt.Bucket) error {
		var raw []byte
		if b != nil {
			raw = b.Get(keyHealthRules)
		}
		if raw == nil {
			return fmt.Errorf("%w: health rules", ErrNotFound)
		}
		return schemaRules.decode(raw, where(p.name, keyHealthRules), &out)
	})
	if err != nil {
		return nil, fmt.Errorf("session: health rules of project %q: %w", p.name, err)
	}
	return out, nil
}

// SaveHealthRules keeps rules (a JSON array); null or empty forgets them,
// so the defaults apply again. A value from a newer clusterlab is not
// overwritten (ErrNewerVersion).
func (p *Project) SaveHealthRules(rules json.RawMessage) error {
	forget := len(rules) == 0 || string(rules) == "null"
	var raw []byte
	if !forget {
		var arr []json.RawMessage
		if err := json.Unmarshal(rules, &arr); err != nil {
			return fmt.Errorf("session: save health rules of project %q: %w: not a JSON array: %v", p.name, ErrInvalid, err)
		}
		var err error
		if raw, err = schemaRules.encode(rules); err != nil {
			return fmt.Errorf("session: save health rules of project %q: %w", p.name, err)
		}
	}
	err := p.write(func(b *bolt.Bucket, _ time.Time) error {
		if old := b.Get(keyHealthRules); old != nil {
			if err := refuseNewer(schemaRules, old, where(p.name, keyHealthRules)); err != nil {
				return err
			}
		}
		if forget {
			return b.Delete(keyHealthRules)
		}
		return b.Put(keyHealthRules, raw)
	})
	if err != nil {
		return fmt.Errorf("session: save health rules of project %q: %w", p.name, err)
	}
	return nil
}
