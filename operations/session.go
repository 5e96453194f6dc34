package operations

// SessionControl is what session operations (project, mode switching,
// connection, history, recording) need from the app; nil when the app
// runs without a session store.
type SessionControl interface{}
