package session

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthRulesKeptPerProject(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(context.Background(), OpenOptions{DataDir: dir})
	require.NoError(t, err)
	p := st.Project("alpha")
	_, err = p.HealthRules()
	require.ErrorIs(t, err, ErrNotFound, "no rules kept: the defaults apply")

	rules := json.RawMessage(`[{"name":"cpu_high","metric":"cpu","op":">","threshold":80,"for":"5s"}]`)
	require.NoError(t, p.SaveHealthRules(rules))
	_, err = st.Project("beta").HealthRules()
	require.ErrorIs(t, err, ErrNotFound, "rules are per project")
	require.NoError(t, st.Close())

	st = openTest(t, OpenOptions{DataDir: dir})
	got, err := st.Project("alpha").HealthRules()
	require.NoError(t, err)
	assert.JSONEq(t, string(rules), string(got), "kept across a reopen")

	for _, bad := range []string{`{"name":"x"}`, `"x"`, `[1,`} {
		assert.ErrorIs(t, st.Project("alpha").SaveHealthRules(json.RawMessage(bad)), ErrInvalid, bad)
	}
	require.NoError(t, st.Project("alpha").SaveHealthRules(json.RawMessage("null")))
	_, err = st.Project("alpha").HealthRules()
	require.ErrorIs(t, err, ErrNotFound, "null forgets them")
}
