package operations

// HealthControl is what health operations need from the app's health
// monitor; nil when the app runs without one.
type HealthControl interface{}
