// Package pager talks to PagerDuty: it reads incidents and their alerts
// through the REST API v2, acts on them as the person who asked (the From
// header carries their PagerDuty email, never a shared account), escalates
// to consciousness-team, and opens incidents through the Events API v2.
// It is built on github.com/PagerDuty/go-pagerduty; HTTP 429 answers are
// retried a bounded number of times, and errors never carry the API token
// or the routing key.
package pager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/thinktank/catobot/secret"
)

// defaultLookback is how far back OpenIncidents looks when given no time;
// it is PagerDuty's own default range for GET /incidents.
const defaultLookback = 30 * 24 * time.Hour

// maxPages guards against a server that always says there is more.
const maxPages = 1000

// Secrets are the credentials, read from the environment by the caller
// (PAGERDUTY_TOKEN, PAGERDUTY_ROUTING_KEY).
type Secrets struct {
	Token      secret.String // REST API v2 token
	RoutingKey secret.String // Events API v2 routing key; may be empty
}

// Options are the process settings of a Client.
type Options struct {
	// DryRun makes mutating calls log what they would send and return nil.
	DryRun bool
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient sends the requests; nil means a client with Config.Timeout.
	HTTPClient *http.Client
	// Sleep waits between retries; nil means a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client calls PagerDuty. It is safe for concurrent use.
type Client struct {
	cfg        Config
	pd         *pagerduty.Client
	token      secret.String
	routingKey secret.String
	dryRun     bool
	log        *slog.Logger
	now        func() time.Time
}

// New returns a Client for cfg with the given secrets.
func New(cfg Config, sec Secrets, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pagerduty config: %w", err)
	}
	if sec.Token.IsZero() {
		return nil, errors.New("pagerduty config: api token is empty")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if cfg.EventsURL == "" {
		cfg.EventsURL = DefaultEventsURL
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "pagerduty")
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	sleep, now := opts.Sleep, opts.Now
	if sleep == nil {
		sleep = sleepCtx
	}
	if now == nil {
		now = time.Now
	}

	pd := pagerduty.NewClient(sec.Token.Reveal(),
		pagerduty.WithAPIEndpoint(strings.TrimRight(cfg.APIURL, "/")),
		pagerduty.WithV2EventsAPIEndpoint(strings.TrimRight(cfg.EventsURL, "/")))
	pd.HTTPClient = &retryDoer{next: hc, maxRetries: cfg.MaxRetries, maxWait: cfg.MaxBackoff,
		sleep: sleep, now: now, log: log}

	return &Client{cfg: cfg, pd: pd, token: sec.Token, routingKey: sec.RoutingKey,
		dryRun: opts.DryRun, log: log, now: now}, nil
}

// Config returns the client's settings.
func (c *Client) Config() Config { return c.cfg }

// Incident returns the incident's current state.
func (c *Client) Incident(ctx context.Context, id string) (pagerduty.Incident, error) {
	op := "get incident " + id
	if !validID(id) {
		return pagerduty.Incident{}, fmt.Errorf("get incident %q: %w", id, ErrInvalidID)
	}
	ctx, ex := withExchange(ctx)
	inc, err := c.pd.GetIncidentWithContext(ctx, id)
	if err != nil {
		return pagerduty.Incident{}, c.classify(ctx, op, err, ex)
	}
	return *inc, nil
}

// IncidentAlerts returns all of the incident's alerts, following pages.
func (c *Client) IncidentAlerts(ctx context.Context, id string) ([]pagerduty.IncidentAlert, error) {
	op := "list alerts of incident " + id
	if !validID(id) {
		return nil, fmt.Errorf("list alerts of incident %q: %w", id, ErrInvalidID)
	}
	var out []pagerduty.IncidentAlert
	var offset uint
	for range maxPages {
		ctx, ex := withExchange(ctx)
		resp, err := c.pd.ListIncidentAlertsWithContext(ctx, id,
			pagerduty.ListIncidentAlertsOptions{Limit: c.cfg.PageSize, Offset: offset})
		if err != nil {
			return nil, c.classify(ctx, op, err, ex)
		}
		out = append(out, resp.Alerts...)
		if !resp.More {
			return out, nil
		}
		offset = nextOffset(offset, resp.APIListObject, len(resp.Alerts))
	}
	return nil, fmt.Errorf("%s: more than %d pages", op, maxPages)
}

// nextOffset returns the offset of the page after the one at offset.
func nextOffset(offset uint, page pagerduty.APIListObject, n int) uint {
	if page.Limit > 0 {
		return page.Offset + page.Limit
	}
	return offset + uint(max(n, 1))
}

// OpenIncidents returns the triggered and acknowledged incidents of the
// configured services created since since (the last 30 days when zero),
// following pages to the end. When PagerDuty refuses to page further (its
// offset limit), the date range is split in two and each half listed.
func (c *Client) OpenIncidents(ctx context.Context, since time.Time) ([]pagerduty.Incident, error) {
	if len(c.cfg.Services) == 0 {
		return nil, fmt.Errorf("list open incidents: %w", ErrNoServices)
	}
	until := c.now().UTC().Truncate(time.Second).Add(time.Second)
	if since.IsZero() {
		since = until.Add(-defaultLookback)
	}
	since = since.UTC().Truncate(time.Second)

	seen := map[string]int{}
	var out []pagerduty.Incident
	add := func(inc pagerduty.Incident) {
		if i, ok := seen[inc.ID]; ok {
			out[i] = inc
			return
		}
		seen[inc.ID] = len(out)
		out = append(out, inc)
	}
	if err := c.listWindow(ctx, since, until, add); err != nil {
		return nil, err
	}
	return out, nil
}

// listWindow lists open incidents created in [since, until).
func (c *Client) listWindow(
	ctx context.Context,
	since, until time.Time,
	add func(pagerduty.Incident),
) error {
	op := "list open incidents"
	opts := pagerduty.ListIncidentsOptions{
		Limit:      c.cfg.PageSize,
		Since:      since.Format(time.RFC3339),
		Until:      until.Format(time.RFC3339),
		Statuses:   []string{"triggered", "acknowledged"},
		ServiceIDs: c.cfg.Services,
	}
	for range maxPages {
		ctx, ex := withExchange(ctx)
		resp, err := c.pd.ListIncidentsWithContext(ctx, opts)
		if err != nil {
			err = c.classify(ctx, op, err, ex)
			if errors.Is(err, errOffsetLimit) {
				return c.splitWindow(ctx, since, until, add)
			}
			return err
		}
		for _, inc := range resp.Incidents {
			add(inc)
		}
		if !resp.More {
			return nil
		}
		opts.Offset = nextOffset(opts.Offset, resp.APIListObject, len(resp.Incidents))
	}
	return fmt.Errorf("%s: more than %d pages", op, maxPages)
}

// splitWindow lists [since, mid) and [mid, until) separately.
func (c *Client) splitWindow(
	ctx context.Context,
	since, until time.Time,
	add func(pagerduty.Incident),
) error {
	mid := since.Add(until.Sub(since) / 2).Truncate(time.Second)
	if !mid.After(since) || !mid.Before(until) {
		return fmt.Errorf("list open incidents from %s to %s: %w",
			since.Format(time.RFC3339), until.Format(time.RFC3339), ErrTooManyIncidents)
	}
	c.log.Debug("pagerduty listing narrowed", "since", since, "mid", mid, "until", until)
	if err := c.listWindow(ctx, since, mid, add); err != nil {
		return err
	}
	return c.listWindow(ctx, mid, until, add)
}

// UserByEmail returns the PagerDuty user whose email is email (ignoring
// case), or an error matching ErrUnknownRequester.
func (c *Client) UserByEmail(ctx context.Context, email string) (pagerduty.User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return pagerduty.User{}, fmt.Errorf("find pagerduty user: %w", ErrNoEmail)
	}
	op := "find pagerduty user " + email
	opts := pagerduty.ListUsersOptions{Query: email, Limit: c.cfg.PageSize}
	for range maxPages {
		ctx, ex := withExchange(ctx)
		resp, err := c.pd.ListUsersWithContext(ctx, opts)
		if err != nil {
			return pagerduty.User{}, c.classify(ctx, op, err, ex)
		}
		for _, u := range resp.Users {
			if strings.EqualFold(u.Email, email) {
				return u, nil
			}
		}
		if !resp.More {
			break
		}
		opts.Offset = nextOffset(opts.Offset, resp.APIListObject, len(resp.Users))
	}
	return pagerduty.User{}, fmt.Errorf("%s: %w", op, ErrUnknownRequester)
}

// OnCallUsers returns the users on call now for the escalation policy, at
// any level, each once.
func (c *Client) OnCallUsers(ctx context.Context, policyID string) ([]pagerduty.User, error) {
	op := "list on-call users of escalation policy " + policyID
	if !validID(policyID) {
		return nil, fmt.Errorf("list on-call users of escalation policy %q: %w", policyID, ErrInvalidID)
	}
	opts := pagerduty.ListOnCallOptions{Limit: c.cfg.PageSize, EscalationPolicyIDs: []string{policyID},
		Includes: []string{"users"}}
	seen := map[string]bool{}
	var out []pagerduty.User
	for range maxPages {
		ctx, ex := withExchange(ctx)
		resp, err := c.pd.ListOnCallsWithContext(ctx, opts)
		if err != nil {
			return nil, c.classify(ctx, op, err, ex)
		}
		for _, oc := range resp.OnCalls {
			if oc.User.ID != "" && !seen[oc.User.ID] {
				seen[oc.User.ID] = true
				out = append(out, oc.User)
			}
		}
		if !resp.More {
			return out, nil
		}
		opts.Offset = nextOffset(opts.Offset, resp.APIListObject, len(resp.OnCalls))
	}
	return nil, fmt.Errorf("%s: more than %d pages", op, maxPages)
}

// IsOnCall reports whether the PagerDuty user with email is on call now for
// the escalation policy.
func (c *Client) IsOnCall(ctx context.Context, policyID, email string) (bool, error) {
	u, err := c.UserByEmail(ctx, email)
	if err != nil {
		return false, err
	}
	users, err := c.OnCallUsers(ctx, policyID)
	if err != nil {
		return false, err
	}
	for _, oc := range users {
		if oc.ID == u.ID {
			return true, nil
		}
	}
	return false, nil
}

// incidentUpdate is the body of PUT /incidents/{id}, as in the cases'
// put_incident_*.request.json.
type incidentUpdate struct {
	Type             string                  `json:"type"`
	Status           string                  `json:"status,omitempty"`
	Resolution       string                  `json:"resolution,omitempty"`
	EscalationLevel  uint                    `json:"escalation_level,omitempty"`
	EscalationPolicy *pagerduty.APIReference `json:"escalation_policy,omitempty"`
	Assignments      []pagerduty.Assignee    `json:"assignments,omitempty"`
}

// Acknowledge acknowledges the incident as the PagerDuty user fromEmail.
func (c *Client) Acknowledge(ctx context.Context, id, fromEmail string) error {
	return c.update(ctx, "acknowledge", id, fromEmail,
		incidentUpdate{Type: "incident_reference", Status: "acknowledged"})
}

// Resolve resolves the incident as fromEmail; resolution, when not empty,
// says what fixed it (PagerDuty adds it as a note).
func (c *Client) Resolve(ctx context.Context, id, fromEmail, resolution string) error {
	return c.update(ctx, "resolve", id, fromEmail,
		incidentUpdate{Type: "incident_reference", Status: "resolved", Resolution: resolution})
}

// Escalate hands the incident to consciousness-team as fromEmail: it
// reassigns it to Config.EscalationPolicy, or raises it to
// Config.EscalationLevel, as Config.EscalateMode says.
func (c *Client) Escalate(ctx context.Context, id, fromEmail string) error {
	up := incidentUpdate{Type: "incident_reference"}
	if c.cfg.EscalateMode == EscalateLevel {
		up.EscalationLevel = c.cfg.EscalationLevel
	} else {
		up.EscalationPolicy = &pagerduty.APIReference{ID: c.cfg.EscalationPolicy,
			Type: "escalation_policy_reference"}
	}
	return c.update(ctx, "escalate", id, fromEmail, up)
}

// Reassign assigns the incident to the PagerDuty user userID, as fromEmail.
func (c *Client) Reassign(ctx context.Context, id, fromEmail, userID string) error {
	if !validID(userID) {
		return fmt.Errorf("reassign incident %s to %q: %w", id, userID, ErrInvalidID)
	}
	to := pagerduty.Assignee{Assignee: pagerduty.APIObject{ID: userID, Type: "user_reference"}}
	return c.update(ctx, "reassign", id, fromEmail,
		incidentUpdate{Type: "incident_reference", Assignments: []pagerduty.Assignee{to}})
}

// update sends PUT /incidents/{id}. go-pagerduty has no single-incident
// update: ManageIncidentsWithContext uses the bulk PUT /incidents and forces
// "type": "incident", so the request is built here and sent with its Do,
// which adds the token and PagerDuty's headers.
func (c *Client) update(ctx context.Context, verb, id, fromEmail string, up incidentUpdate) error {
	op := verb + " incident " + id
	if !validID(id) {
		return fmt.Errorf("%s incident %q: %w", verb, id, ErrInvalidID)
	}
	body := map[string]incidentUpdate{"incident": up}
	return c.send(ctx, op, http.MethodPut, "/incidents/"+id, fromEmail, body)
}

// AddNote adds a note to the incident as fromEmail.
func (c *Client) AddNote(ctx context.Context, id, fromEmail, text string) error {
	op := "add note to incident " + id
	if !validID(id) {
		return fmt.Errorf("add note to incident %q: %w", id, ErrInvalidID)
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%s: %w: the note is empty", op, ErrRejected)
	}
	// go-pagerduty's CreateIncidentNoteWithContext takes From from
	// note.User.Summary and sends that user object in the body too, so the
	// note is sent here as PagerDuty documents it: {"note": {"content": ...}}.
	body := map[string]map[string]string{"note": {"content": text}}
	return c.send(ctx, op, http.MethodPost, "/incidents/"+id+"/notes", fromEmail, body)
}

// send makes a mutating REST call as fromEmail, or logs it in dry-run mode.
func (c *Client) send(ctx context.Context, op, method, path, fromEmail string, body any) error {
	from := strings.TrimSpace(fromEmail)
	if from == "" {
		return fmt.Errorf("%s: %w", op, ErrNoEmail)
	}
	if strings.ContainsAny(from, " \t\r\n<>,") || !strings.Contains(from, "@") {
		return fmt.Errorf("%s: %w: malformed email", op, ErrUnknownRequester)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode body: %w", op, err)
	}
	if c.dryRun {
		c.log.Info("pagerduty call skipped", "dry_run", true, "method", method, "path", path,
			"from", from, "body", string(data))
		return nil
	}

	ctx, ex := withExchange(ctx)
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIURL+path, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("From", from)
	resp, err := c.pd.Do(req, true)
	if err != nil {
		return c.classify(ctx, op, err, ex)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}

	apiErr := pagerduty.APIError{StatusCode: resp.StatusCode}
	_ = json.Unmarshal(ex.errBody, &apiErr)
	return c.classify(ctx, op, apiErr, ex)
}
