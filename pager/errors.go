package pager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/thinktank/catobot/actions"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNoEmail means the person has no email the bot could send as From;
	// nothing was sent.
	ErrNoEmail = errors.New("no email known for the requester")
	// ErrUnknownRequester means PagerDuty refused the From header: missing,
	// malformed, or no PagerDuty user has that email.
	ErrUnknownRequester = errors.New("requester email maps to no pagerduty user")
	// ErrRateLimited means PagerDuty still answered 429 after the retries.
	ErrRateLimited = errors.New("pagerduty rate limit")
	// ErrUnauthorized means PagerDuty refused the API token.
	ErrUnauthorized = errors.New("pagerduty refused the api token")
	// ErrForbidden means the token or the requester may not do this.
	ErrForbidden = errors.New("pagerduty forbade the action")
	// ErrNotFound means the incident (or other object) does not exist.
	ErrNotFound = errors.New("pagerduty object not found")
	// ErrRejected means PagerDuty refused the request as invalid.
	ErrRejected = errors.New("pagerduty rejected the request")
	// ErrUnavailable means PagerDuty could not be reached or failed (5xx).
	ErrUnavailable = errors.New("pagerduty unavailable")
	// ErrEventRejected means the Events API refused the event; not retried.
	ErrEventRejected = errors.New("pagerduty rejected the event")
	// ErrNoRoutingKey means no Events API routing key is configured.
	ErrNoRoutingKey = errors.New("no pagerduty routing key configured")
	// ErrNoServices means polling was asked for with no services configured.
	ErrNoServices = errors.New("no pagerduty services configured")
	// ErrInvalidID means an ID is not a PagerDuty ID; nothing was sent.
	ErrInvalidID = errors.New("not a pagerduty id")
	// ErrTooManyIncidents means even a one-second window exceeds
	// PagerDuty's offset limit.
	ErrTooManyIncidents = errors.New("too many incidents to list")

	// errOffsetLimit marks PagerDuty's offset+limit error, which makes
	// OpenIncidents narrow its date range.
	errOffsetLimit = errors.New("pagerduty offset limit exceeded")
)

// PagerDuty error codes that concern the From header:
// https://developer.pagerduty.com/docs/rest-api-v2/errors/
const (
	codeRequesterNotFound = 1008
	codeMalformedFrom     = 1028
	codeMissingFrom       = 2016
	codeArgumentsError    = 2002
	codeNotFound          = 2100
)

// APIError is an error answer from PagerDuty, with any secret removed.
type APIError struct {
	Op       string   // what was attempted, e.g. "acknowledge incident Q1SHAD0WS3LF7X"
	Status   int      // HTTP status
	Code     int      // PagerDuty error code, 0 when absent
	Message  string   // PagerDuty's message
	Errors   []string // PagerDuty's details
	Attempts int      // requests sent, retries included
	kind     error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: pagerduty answered %d", e.Op, e.Status)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if len(e.Errors) > 0 {
		b.WriteString(": " + strings.Join(e.Errors, "; "))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the sentinel error that says what kind of failure e is.
func (e *APIError) Unwrap() error { return e.kind }

// Message returns the plain words the bot shows the person for err.
func Message(err error) string {
	var ae *APIError
	detail := ""
	if errors.As(err, &ae) && ae.Message != "" {
		detail = ae.Message
		if len(ae.Errors) > 0 {
			detail += " (" + strings.Join(ae.Errors, "; ") + ")"
		}
	}
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoEmail):
		return "I can't act in PagerDuty for you: your Slack profile shows no email address. " +
			"Add one (or ask a Slack admin to make emails visible) and try again."
	case errors.Is(err, ErrUnknownRequester):
		return "Your email maps to no PagerDuty user, so I can't act in PagerDuty as you. " +
			"Ask a PagerDuty admin to add your Slack email to your PagerDuty profile."
	case errors.Is(err, ErrRateLimited):
		return "PagerDuty is rate-limiting the bot right now; nothing was changed. Try again in a minute."
	case errors.Is(err, ErrUnauthorized):
		return "PagerDuty refused the bot's API token; nothing was changed. Tell the bot's operators."
	case errors.Is(err, ErrForbidden):
		return "PagerDuty does not allow this action for you or for the bot's token."
	case errors.Is(err, ErrNotFound):
		return "PagerDuty has no such incident (it may have been merged or deleted)."
	case errors.Is(err, ErrInvalidID):
		return "That is not a PagerDuty ID, so nothing was sent."
	case errors.Is(err, ErrEventRejected):
		return "PagerDuty refused the event: " + detail
	case errors.Is(err, ErrRejected):
		return "PagerDuty refused the request: " + detail
	case errors.Is(err, ErrUnavailable):
		return "PagerDuty is not answering right now; nothing was changed. Try again shortly."
	case errors.Is(err, ErrNoRoutingKey):
		return "No PagerDuty routing key is configured, so I can't open an incident. " +
			"Tell the bot's operators."
	case errors.Is(err, ErrNoServices):
		return "No PagerDuty services are configured to watch. Tell the bot's operators."
	case errors.Is(err, ErrTooManyIncidents):
		return "PagerDuty has too many open incidents to list them all."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "The PagerDuty call was cut short; it may or may not have happened. Check the incident."
	}
	return "The PagerDuty call failed."
}

// ActionError returns err as an *actions.Error whose Msg is Message(err)
// and whose Kind says whether trying again later may help, or nil for nil.
func ActionError(err error) error {
	if err == nil {
		return nil
	}
	kind := actions.KindInternal
	switch {
	case errors.Is(err, ErrNoEmail), errors.Is(err, ErrUnknownRequester), errors.Is(err, ErrUnauthorized),
		errors.Is(err, ErrForbidden), errors.Is(err, ErrRejected), errors.Is(err, ErrEventRejected),
		errors.Is(err, ErrNoRoutingKey), errors.Is(err, ErrNoServices):
		kind = actions.KindRefused
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidID):
		kind = actions.KindNotFound
	case errors.Is(err, ErrRateLimited), errors.Is(err, ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded):
		kind = actions.KindUnavailable
	}
	return &actions.Error{Kind: kind, Msg: Message(err), Err: err}
}

// classify turns what go-pagerduty returned for op into an error of this
// package, with secrets removed. ex holds what the transport saw.
func (c *Client) classify(ctx context.Context, op string, err error, ex *exchange) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	var pe pagerduty.APIError
	if !errors.As(err, &pe) {
		// Transport failures: go-pagerduty formats them with %v, so only the
		// (redacted) text survives.
		return fmt.Errorf("%s: %w: %s", op, ErrUnavailable, c.redact(err.Error()))
	}
	ae := &APIError{Op: op, Status: pe.StatusCode, Attempts: ex.attempts}
	if pe.APIError.Valid {
		obj := pe.APIError.ErrorObject
		ae.Code, ae.Message = obj.Code, c.redact(obj.Message)
		for _, e := range obj.Errors {
			ae.Errors = append(ae.Errors, c.redact(e))
		}
	}
	ae.kind = kindOf(ae)
	return ae
}

func kindOf(ae *APIError) error {
	switch {
	case ae.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case ae.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case ae.Status == http.StatusForbidden:
		return ErrForbidden
	case ae.Status == http.StatusNotFound || ae.Code == codeNotFound:
		return ErrNotFound
	case ae.Code == codeRequesterNotFound || ae.Code == codeMalformedFrom || ae.Code == codeMissingFrom:
		return ErrUnknownRequester
	case ae.Status == http.StatusBadRequest && ae.Code == codeArgumentsError && mentionsOffset(ae.Errors):
		return errOffsetLimit
	case ae.Status >= 500:
		return ErrUnavailable
	}
	return ErrRejected
}

func mentionsOffset(errs []string) bool {
	for _, e := range errs {
		if strings.Contains(strings.ToLower(e), "offset") {
			return true
		}
	}
	return false
}

// redact removes the API token and the routing key from s.
func (c *Client) redact(s string) string {
	for _, sec := range []string{c.token.Reveal(), c.routingKey.Reveal()} {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
