package pager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/PagerDuty/go-pagerduty"
)

// maxSummary is the Events API v2 limit on payload.summary:
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
const maxSummary = 1024

// eventClient names the bot as the event's sender.
const eventClient = "catobot"

// Event is a problem to open an incident for through the Events API v2.
type Event struct {
	Summary       string         // one line; cut to 1024 characters
	Source        string         // where the problem is, e.g. the endpoint ARN
	Severity      string         // critical, error, warning or info
	DedupKey      string         // empty lets PagerDuty choose one
	Component     string         // optional, e.g. "cato-shadow-self/primary"
	Group         string         // optional
	Class         string         // optional
	CustomDetails map[string]any // shown in the alert's details
}

// Trigger opens (or joins) an incident for ev with the configured routing
// key and returns the dedup key PagerDuty keeps for it. A refused event
// (HTTP 400) is logged with PagerDuty's errors and not retried.
func (c *Client) Trigger(ctx context.Context, ev Event) (string, error) {
	op := "trigger event"
	if ev.DedupKey != "" {
		op += " " + ev.DedupKey
	}
	if c.routingKey.IsZero() {
		return "", fmt.Errorf("%s: %w", op, ErrNoRoutingKey)
	}
	v2 := &pagerduty.V2Event{
		RoutingKey: c.routingKey.Reveal(),
		Action:     "trigger",
		DedupKey:   ev.DedupKey,
		Client:     eventClient,
		Payload: &pagerduty.V2Payload{
			Summary:   truncate(ev.Summary, maxSummary),
			Source:    ev.Source,
			Severity:  ev.Severity,
			Component: ev.Component,
			Group:     ev.Group,
			Class:     ev.Class,
		},
	}
	if len(ev.CustomDetails) > 0 {
		v2.Payload.Details = ev.CustomDetails
	}
	if c.dryRun {
		c.log.Info("pagerduty call skipped", "dry_run", true, "method", "POST", "path", "/v2/enqueue",
			"dedup_key", ev.DedupKey, "summary", v2.Payload.Summary)
		return ev.DedupKey, nil
	}

	ctx, ex := withExchange(ctx)
	resp, err := c.pd.ManageEventWithContext(ctx, v2)
	if err != nil {
		return "", c.eventError(ctx, op, err, ex)
	}
	if resp.DedupKey != "" {
		return resp.DedupKey, nil
	}
	return ev.DedupKey, nil
}

// eventError classifies an Events API failure. go-pagerduty's client method
// parses error answers as REST errors, losing the Events API's errors[];
// they are read from the body the transport kept.
func (c *Client) eventError(ctx context.Context, op string, err error, ex *exchange) error {
	err = c.classify(ctx, op, err, ex)
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	var body pagerduty.V2EventResponse
	if json.Unmarshal(ex.errBody, &body) == nil && (body.Message != "" || len(body.Errors) > 0) {
		ae.Message = c.redact(body.Message)
		ae.Errors = nil
		for _, e := range body.Errors {
			ae.Errors = append(ae.Errors, c.redact(e))
		}
	}
	if ae.Status == 400 {
		ae.kind = ErrEventRejected
		c.log.Warn("pagerduty event rejected", "op", op, "status", ae.Status, "errors", ae.Errors)
	}
	return ae
}

// truncate cuts s to n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
