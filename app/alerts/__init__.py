"""Alerts: rules as versioned data, evaluated by a background task in every replica (one
at a time, under an advisory lock) with hysteresis; an alert's life (fired, acknowledged,
resolved) is recorded as history and published as events."""
