package sqssink

// Limits that the tests check.
const (
	MaxInFlight = maxInFlight
	SendMargin  = sendMargin
)
