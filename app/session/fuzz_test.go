package session

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// FuzzDecodeSession: any stored bytes decode to a valid session or to a
// clear error (ErrCorrupt or ErrNewerVersion), never a panic.
func FuzzDecodeSession(f *testing.F) {
	good, err := schemaSession.encode(fullSession())
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"version":1,"data":{}}`))
	f.Add([]byte(`{"version":2,"data":{}}`))
	f.Add([]byte(`{"version":1,"data":{"ui":{"pins":{"by_name":{"a":"b"}},"panel_sizes":{"x":-1}}}}`))
	f.Add([]byte(`{"version":1,"data":{"connection_profiles":[{"name":"a"},{"name":"a"}],"mode":"a"}}`))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s Session
		err := schemaSession.decode(raw, "fuzz", &s)
		if err == nil {
			err = s.Validate()
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate: unexpected error kind: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerVersion) {
			t.Fatalf("decode: unexpected error kind: %v", err)
		}
	})
}

// FuzzAlert: any alert bytes are accepted with an id or refused with
// ErrInvalid, never a panic.
func FuzzAlert(f *testing.F) {
	f.Add([]byte(`{"id":"a1","state":"raised","node":"node-3"}`))
	f.Add([]byte(`{"id":1,"state":"raised"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(` {"id":"x","state":"y"} `))
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, err := checkAlert(json.RawMessage(raw))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if id == "" {
			t.Fatal("accepted an alert without id")
		}
	})
}

func TestPanicInTransactionBecomesError(t *testing.T) {
	st := openTest(t, OpenOptions{})
	err := st.view(func(*bolt.Tx) error { panic("damaged page") })
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "damaged page")
	err = st.update(func(*bolt.Tx) error { panic("damaged page") })
	assert.ErrorIs(t, err, ErrCorrupt)
	// The store still works afterwards.
	require.NoError(t, st.Project("p").SaveSession(DefaultSession()))
	_, err = st.Project("p").Session()
	require.NoError(t, err)
}
