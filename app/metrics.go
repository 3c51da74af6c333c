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
		// AckedAfter below counts the ack.
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
	received, ackedAfter := opts.Hooks.Received, opts.Hooks.AckedAfter
	opts.Hooks.Received = func(envelopeType string) {
		m.EnvelopeReceived(envelopeType)
		if received != nil {
			received(envelopeType)
		}
	}
	opts.Hooks.AckedAfter = func(envelopeType string, d time.Duration) {
		m.AckedAfter(envelopeType, d)
		if ackedAfter != nil {
			ackedAfter(envelopeType, d)
		}
	}
	return m
}
