package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/thinktank/catobot/secret"
)

// WebhookIDHeader is PagerDuty's delivery id header. Deliveries are
// deduplicated on the body's event.id instead, which the signature covers;
// the header is the fallback for a body that has none.
const WebhookIDHeader = "X-Webhook-Id"

// Defaults for WebhookOptions.
const (
	DefaultMaxBody   = 1 << 20
	DefaultQueueSize = 256
	DefaultWorkers   = 4
	DefaultQueueWait = time.Second
)

// seenTimeout bounds recording an event id; PagerDuty waits 5 s for an
// answer.
const seenTimeout = 3 * time.Second

// Inbox keeps each accepted event until a worker has handled it, so that a
// process that dies between the 202 and the handling loses nothing: another
// process, or this one after a restart, replays it (see Webhook.Replay).
type Inbox interface {
	// Put keeps an accepted event, encoded.
	Put(ctx context.Context, id string, event []byte) error
	// Done forgets an event once it has reached the Sink.
	Done(ctx context.Context, id string) error
}

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	// Secrets are the signing secrets; a delivery signed with any of them
	// is accepted. Give the previous and the current one while rotating.
	Secrets []secret.String
	// Seen records a delivery's event id and reports whether it is new
	// (ledger.Ledger.FirstSeen with its source bound).
	Seen SeenFunc
	// Reader fetches a triggered incident's alerts.
	Reader IncidentReader
	// Sink receives the events.
	Sink   Sink
	Rules  []Rule
	Logger *slog.Logger
	// MaxBody bounds the request body in bytes; zero means 1 MiB.
	MaxBody int64
	// QueueSize bounds the accepted events waiting for a worker; zero
	// means 256.
	QueueSize int
	// Workers is how many events are processed at once; zero means 4.
	Workers int
	// QueueWait is how long a delivery waits for room in a full queue
	// before it is answered 503; zero means one second.
	QueueWait time.Duration
	// Retry governs the REST reads done for an event.
	Retry Retry
	// Inbox, when set, keeps accepted events until they are handled.
	Inbox Inbox
}

// Webhook receives PagerDuty webhooks v3. It is an http.Handler for
// POST /webhooks/pagerduty:
//
//   - The body is read up to MaxBody (413 beyond) and X-PagerDuty-Signature
//     is checked on the raw bytes against every secret; a missing or wrong
//     signature is answered 401 and nothing else happens.
//   - A body that does not parse is answered 400; an event type the bot does
//     not handle is answered 200 and dropped.
//   - The event id is recorded with Seen; an id seen before is answered 200
//     and dropped, so a redelivery does nothing. The id is the body's
//     event.id, which the signature covers and which stays the same when
//     PagerDuty redelivers; X-Webhook-Id is used only when the body has
//     none.
//   - An incident.annotated event's incident is read again through the
//     REST API, since the note names only a reference; when that read
//     fails the event keeps the reference (ID, title, URL).
//   - A new event is queued and answered 202 at once; a worker then fetches
//     the alerts of a triggered incident, matches the rules and hands the
//     event to the Sink. Events of one incident are handled one at a time,
//     in the order they were accepted.
//
// No accepted event is lost: room in the queue is reserved before the id is
// recorded, so a full queue (503), like a failing Seen (503), leaves the id
// unrecorded and PagerDuty's retry is processed. Once recorded, the event
// always reaches the Sink; when its alerts cannot be read after retries it
// is delivered without them and Event.AlertsError says why. Shutdown drains
// the queue.
type Webhook struct {
	opts WebhookOptions
	log  *slog.Logger
	en   enricher

	// slots holds one token per queued or running event. Each worker has
	// its own queue of the same capacity, so a sender holding a slot never
	// blocks, and an incident's events always go to the same worker, in
	// the order they were accepted.
	slots  chan struct{}
	queues []chan Event

	mu     sync.RWMutex
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ http.Handler = (*Webhook)(nil)

// NewWebhook returns a Webhook and starts its workers; call Shutdown to
// stop them. It fails when no secret is configured or Seen or Sink is nil.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	if !slices.ContainsFunc(opts.Secrets, func(s secret.String) bool { return !s.IsZero() }) {
		return nil, errors.New("new pagerduty webhook: no signing secret")
	}
	if opts.Seen == nil || opts.Sink == nil {
		return nil, errors.New("new pagerduty webhook: seen and sink are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultQueueWait
	}

	log := opts.Logger.With("intake", "webhook")
	w := &Webhook{
		opts:  opts,
		log:   log,
		en:    enricher{reader: opts.Reader, rules: opts.Rules, retry: opts.Retry, log: log},
		slots: make(chan struct{}, opts.QueueSize),
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		q := make(chan Event, opts.QueueSize)
		w.queues = append(w.queues, q)
		w.wg.Go(func() { w.work(q) })
	}
	return w, nil
}

// ServeHTTP implements http.Handler.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	log := w.log.With("webhook_id", clip(r.Header.Get(WebhookIDHeader)), "remote_addr", r.RemoteAddr)

	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.opts.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		log.Warn("webhook body too large", "max_bytes", w.opts.MaxBody)
		http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		log.Warn("read webhook body", "err", err)
		http.Error(rw, "cannot read body", http.StatusBadRequest)
		return
	}

	if err := VerifySignature(body, r.Header.Get(SignatureHeader), w.opts.Secrets); err != nil {
		log.Warn("webhook refused", "err", err, "body_bytes", len(body))
		http.Error(rw, "invalid signature", http.StatusUnauthorized)
		return
	}

	e, err := parseWebhook(body)
	if err != nil {
		log.Warn("parse webhook", "err", err)
		http.Error(rw, "malformed event", http.StatusBadRequest)
		return
	}
	log = log.With("event_id", e.ID, "event_type", e.Type, "incident_id", e.Incident.ID)
	if !handled(e.Type) {
		log.Debug("webhook event type ignored")
		rw.WriteHeader(http.StatusOK)
		return
	}
	if e.ID == "" {
		e.ID = r.Header.Get(WebhookIDHeader)
	}
	if e.ID == "" {
		log.Warn("webhook event without id")
		http.Error(rw, "event has no id", http.StatusBadRequest)
		return
	}

	rw.WriteHeader(w.accept(r.Context(), log, e))
}

// accept queues e unless it was seen before and returns the HTTP status to
// answer.
func (w *Webhook) accept(ctx context.Context, log *slog.Logger, e Event) int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		log.Warn("webhook refused while shutting down")
		return http.StatusServiceUnavailable
	}

	t := time.NewTimer(w.opts.QueueWait)
	defer t.Stop()
	select {
	case w.slots <- struct{}{}:
	case <-t.C:
		log.Warn("webhook queue full", "queue_size", w.opts.QueueSize)
		return http.StatusServiceUnavailable
	case <-ctx.Done():
		return http.StatusServiceUnavailable
	}

	// Once recording starts it finishes, even if PagerDuty hangs up: an id
	// recorded for an event that is then dropped would lose the event.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), seenTimeout)
	defer cancel()
	first, err := w.opts.Seen(sctx, e.ID)
	switch {
	case err != nil:
		<-w.slots
		log.Error("record webhook event", "err", err)
		return http.StatusServiceUnavailable
	case !first:
		<-w.slots
		log.Info("webhook event seen before")
		return http.StatusOK
	}
	if w.opts.Inbox != nil {
		raw, err := json.Marshal(e)
		if err == nil {
			err = w.opts.Inbox.Put(sctx, e.ID, raw)
		}
		if err != nil {
			// The event is still handled; only a crash before then
			// would lose it now.
			log.Error("keep webhook event", "err", err)
		}
	}
	w.queues[queueOf(e.Incident.ID, len(w.queues))] <- e
	log.Debug("webhook event accepted")
	return http.StatusAccepted
}

// Replay queues events kept by an Inbox whose process stopped before
// handling them. It blocks while the queue is full and reports how many it
// queued.
func (w *Webhook) Replay(ctx context.Context, events map[string][]byte) (int, error) {
	n := 0
	for id, raw := range events {
		var e Event
		if err := json.Unmarshal(raw, &e); err != nil {
			w.log.Warn("kept webhook event unreadable", "event_id", id, "err", err)
			if w.opts.Inbox != nil {
				_ = w.opts.Inbox.Done(ctx, id)
			}
			continue
		}
		w.mu.RLock()
		if w.closed {
			w.mu.RUnlock()
			return n, errors.New("replay pagerduty webhook events: shutting down")
		}
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			w.mu.RUnlock()
			return n, ctx.Err()
		}
		w.queues[queueOf(e.Incident.ID, len(w.queues))] <- e
		w.mu.RUnlock()
		w.log.Info("webhook event replayed", "event_id", id, "event_type", e.Type)
		n++
	}
	return n, nil
}

func (w *Webhook) work(q <-chan Event) {
	for e := range q {
		w.process(w.ctx, e)
		if w.opts.Inbox != nil {
			if err := w.opts.Inbox.Done(context.WithoutCancel(w.ctx), e.ID); err != nil {
				w.log.Warn("forget handled webhook event", "event_id", e.ID, "err", err)
			}
		}
		<-w.slots
	}
}

// process enriches e and hands it to the Sink. A panic in the Sink is
// logged and does not stop the worker.
func (w *Webhook) process(ctx context.Context, e Event) {
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("webhook event handler panicked", "event_id", e.ID, "panic", fmt.Sprint(v))
		}
	}()
	switch e.Type {
	case IncidentTriggered:
		w.en.enrich(ctx, &e)
	case IncidentAnnotated:
		w.en.refresh(ctx, &e)
	}
	w.opts.Sink.HandleEvent(ctx, e)
}

// queueOf picks the worker for an incident, so that its events reach the
// Sink in order: a triggered event still reading its alerts is not
// overtaken by the acknowledgement that follows it.
func queueOf(incidentID string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(incidentID))
	return int(h.Sum32() % uint32(n))
}

// Shutdown stops accepting deliveries (503, so PagerDuty retries them),
// waits for the queued events to reach the Sink and stops the workers. When
// ctx ends first, the REST reads still running are cancelled and the
// remaining events are handed to the Sink without their alerts; Shutdown
// then returns ctx's error.
func (w *Webhook) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		for _, q := range w.queues {
			close(q)
		}
	}
	w.mu.Unlock()

	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		w.cancel()
		return nil
	case <-ctx.Done():
		w.log.Warn("webhook shutdown cut short", "queued", len(w.slots))
		w.cancel()
		<-done
		return fmt.Errorf("shut down pagerduty webhook: %w", ctx.Err())
	}
}

// clip shortens an unverified header value for the log.
func clip(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

func handled(eventType string) bool {
	switch eventType {
	case IncidentTriggered, IncidentAcknowledged, IncidentUnacknowledged, IncidentEscalated,
		IncidentReassigned, IncidentAnnotated, IncidentResolved:
		return true
	}
	return false
}

// v3Ref is a reference object in a webhooks v3 payload.
type v3Ref struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

type v3Incident struct {
	ID               string  `json:"id"`
	HTMLURL          string  `json:"html_url"`
	Number           int     `json:"number"`
	Status           string  `json:"status"`
	IncidentKey      string  `json:"incident_key"`
	CreatedAt        string  `json:"created_at"`
	Title            string  `json:"title"`
	Service          *v3Ref  `json:"service"`
	Assignees        []v3Ref `json:"assignees"`
	EscalationPolicy *v3Ref  `json:"escalation_policy"`
	Priority         *v3Ref  `json:"priority"`
	Urgency          string  `json:"urgency"`
}

type v3Note struct {
	Content  string `json:"content"`
	Incident *v3Ref `json:"incident"`
}

// ParseWebhook parses a webhooks v3 body into an Event without checking its
// signature; the Webhook handler checks that first. Events on resources
// other than incidents come back with their type and id only.
func ParseWebhook(body []byte) (Event, error) {
	return parseWebhook(body)
}

func parseWebhook(body []byte) (Event, error) {
	var env struct {
		Event *struct {
			ID           string          `json:"id"`
			EventType    string          `json:"event_type"`
			ResourceType string          `json:"resource_type"`
			OccurredAt   string          `json:"occurred_at"`
			Agent        *v3Ref          `json:"agent"`
			Data         json.RawMessage `json:"data"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("parse webhook: %w", err)
	}
	if env.Event == nil {
		return Event{}, errors.New("parse webhook: no event object")
	}
	ev := env.Event
	e := Event{ID: ev.ID, Type: ev.EventType, OccurredAt: ev.OccurredAt, Source: "webhook"}
	if ev.Agent != nil && ev.Agent.Type == "user_reference" {
		e.Agent = first(ev.Agent.Summary, ev.Agent.ID)
	}
	if !handled(e.Type) || len(ev.Data) == 0 {
		return e, nil
	}

	if e.Type == IncidentAnnotated {
		var n v3Note
		if err := json.Unmarshal(ev.Data, &n); err != nil {
			return Event{}, fmt.Errorf("parse webhook %s note: %w", e.Type, err)
		}
		e.Note = n.Content
		if n.Incident != nil {
			ref := n.Incident
			e.Incident = Incident{ID: ref.ID, Title: ref.Summary, URL: ref.HTMLURL}
		}
		return e, nil
	}

	var in v3Incident
	if err := json.Unmarshal(ev.Data, &in); err != nil {
		return Event{}, fmt.Errorf("parse webhook %s incident: %w", e.Type, err)
	}
	e.Incident = Incident{
		ID:          in.ID,
		Number:      in.Number,
		Title:       in.Title,
		Status:      in.Status,
		Urgency:     in.Urgency,
		URL:         in.HTMLURL,
		CreatedAt:   in.CreatedAt,
		IncidentKey: in.IncidentKey,
	}
	if in.Service != nil {
		e.Incident.Service, e.Incident.ServiceID = in.Service.Summary, in.Service.ID
	}
	if in.EscalationPolicy != nil {
		e.Incident.Policy, e.Incident.PolicyID = in.EscalationPolicy.Summary, in.EscalationPolicy.ID
	}
	if in.Priority != nil {
		e.Incident.Priority = in.Priority.Summary
	}
	for _, a := range in.Assignees {
		e.Incident.Assignees = append(e.Incident.Assignees, first(a.Summary, a.ID))
	}
	return e, nil
}
