package app

import (
	"time"

	"github.com/thinktank/catobot/telemetry"
)

// instrument returns new metrics for the bot and adds them to opts.Hooks,
// after any hooks the caller set.
func instrument(opts *Options) *telemetry.Metrics {
	m := telemetry.New()
	acked, stepDone := opts.Hooks.Acked, opts.Hooks.StepDone
	opts.Hooks.Acked = func(envelopeType string) {
		m.Acked(envelopeType)
		if acked != nil {
			acked(envelopeType)
		}
	}
	opts.Hooks.StepDone = func(component, result string, d time.Duration) {
		m.StepDone(component, result, d)
		if stepDone != nil {
			stepDone(component, result, d)
		}
	}
	return m
}
