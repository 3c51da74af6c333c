package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// Defaults for PollerOptions.
const (
	DefaultPollInterval = 30 * time.Second
	DefaultPollLookback = 24 * time.Hour
)

// PollerOptions configure a Poller.
type PollerOptions struct {
	Lister IncidentLister
	// Reader fetches new incidents' alerts and the state of incidents
	// that left the open list.
	Reader IncidentReader
	// Seen records event keys shared by every replica, so that a new
	// leader does not announce again what an old one did.
	Seen   SeenFunc
	Sink   Sink
	Rules  []Rule
	Logger *slog.Logger
	// Interval is the time between polls; zero means 30 seconds.
	Interval time.Duration
	// Lookback is how far back open incidents are listed; zero means 24
	// hours. A shorter window keeps the listing within PagerDuty's offset
	// limit.
	Lookback time.Duration
	// Leader reports whether this replica should poll now; nil means
	// always.
	Leader func() bool
	// Retry governs the REST reads done for an event.
	Retry Retry
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Poller is the intake for clusters that accept no inbound traffic: it
// lists open incidents through the REST API and turns what changed into
// the same events the webhook gives.
//
// An incident not seen before becomes an incident.triggered event (with
// its alerts and match, whatever its status now). A known incident whose
// status differs from the last poll becomes incident.acknowledged,
// incident.unacknowledged (back to triggered) or incident.resolved; an
// incident that left the open list is read once to learn whether it was
// resolved. Event ids are "poll:<id>" for the first sighting and
// "poll:<id>:<status>:<last_status_change_at>" for changes, recorded with
// Seen before the event is delivered, so only one replica announces each.
type Poller struct {
	opts PollerOptions
	log  *slog.Logger
	en   enricher
	// last is each open incident's status at the previous poll.
	last map[string]string
}

// NewPoller returns a Poller; Run starts it.
func NewPoller(opts PollerOptions) (*Poller, error) {
	if opts.Lister == nil || opts.Seen == nil || opts.Sink == nil {
		return nil, errors.New("new pagerduty poller: lister, seen and sink are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultPollInterval
	}
	if opts.Lookback <= 0 {
		opts.Lookback = DefaultPollLookback
	}
	if opts.Leader == nil {
		opts.Leader = func() bool { return true }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger.With("intake", "poll")
	return &Poller{
		opts: opts,
		log:  log,
		en:   enricher{reader: opts.Reader, rules: opts.Rules, retry: opts.Retry, log: log},
		last: map[string]string{},
	}, nil
}

// Run polls at once and then every interval while this replica is the
// leader, until ctx ends; it returns nil then.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		if p.opts.Leader() {
			if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("poll pagerduty incidents", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll lists open incidents once and delivers the events for what changed.
// Run calls it; it is exported for the sandbox and tests.
func (p *Poller) Poll(ctx context.Context) error {
	list, err := p.opts.Lister.OpenIncidents(ctx, p.opts.Now().Add(-p.opts.Lookback))
	if err != nil {
		return err
	}

	open := make(map[string]bool, len(list))
	for _, in := range list {
		if in.ID == "" {
			continue
		}
		open[in.ID] = true
		if err := p.observe(ctx, in); err != nil {
			return err
		}
	}
	for id := range p.last {
		if open[id] {
			continue
		}
		if err := p.closed(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// observe handles one incident from the open list.
func (p *Poller) observe(ctx context.Context, in pagerduty.Incident) error {
	prev, known := p.last[in.ID]
	p.last[in.ID] = in.Status
	if !known {
		first, err := p.opts.Seen(ctx, "poll:"+in.ID)
		if err != nil {
			delete(p.last, in.ID)
			return err
		}
		if first {
			// The status key too, so the next leader does not announce
			// the status this card already shows.
			if _, err := p.opts.Seen(ctx, statusKey(in)); err != nil {
				delete(p.last, in.ID)
				return err
			}
			e := p.event(in, "poll:"+in.ID, IncidentTriggered)
			p.en.enrich(ctx, &e)
			p.deliver(ctx, e)
			return nil
		}
	}
	if known && prev == in.Status {
		return nil
	}
	return p.changed(ctx, in)
}

// changed delivers a status event for in unless some replica already did.
func (p *Poller) changed(ctx context.Context, in pagerduty.Incident) error {
	key := statusKey(in)
	first, err := p.opts.Seen(ctx, key)
	if err != nil {
		delete(p.last, in.ID)
		return err
	}
	if !first {
		return nil
	}
	var typ string
	switch in.Status {
	case "acknowledged":
		typ = IncidentAcknowledged
	case "resolved":
		typ = IncidentResolved
	case "triggered":
		typ = IncidentUnacknowledged
	default:
		p.log.Debug("incident status ignored", "incident_id", in.ID, "status", in.Status)
		return nil
	}
	p.deliver(ctx, p.event(in, key, typ))
	return nil
}

// closed handles an incident that left the open list: resolved, or out of
// the lookback window.
func (p *Poller) closed(ctx context.Context, id string) error {
	if p.opts.Reader == nil {
		delete(p.last, id)
		return nil
	}
	var in pagerduty.Incident
	err := p.en.retry.do(ctx, func(ctx context.Context) error {
		var err error
		in, err = p.opts.Reader.Incident(ctx, id)
		return err
	})
	if err != nil {
		// Try again at the next poll.
		p.log.Warn("read incident", "incident_id", id, "err", err)
		return nil
	}
	delete(p.last, id)
	if in.Status != "resolved" {
		return nil
	}
	return p.changed(ctx, in)
}

func (p *Poller) event(in pagerduty.Incident, id, typ string) Event {
	e := Event{
		ID:         id,
		Type:       typ,
		Incident:   FromIncident(in),
		OccurredAt: in.LastStatusChangeAt,
		Source:     "poll",
	}
	if by := in.LastStatusChangeBy; by.Type == "user_reference" && typ != IncidentTriggered {
		e.Agent = first(by.Summary, by.ID)
	}
	return e
}

// deliver hands e to the Sink; a panic in the Sink is logged and polling
// goes on.
func (p *Poller) deliver(ctx context.Context, e Event) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("poll event handler panicked", "event_id", e.ID, "panic", fmt.Sprint(v))
		}
	}()
	p.log.Debug("poll event", "event_id", e.ID, "event_type", e.Type, "incident_id", e.Incident.ID)
	p.opts.Sink.HandleEvent(ctx, e)
}

func statusKey(in pagerduty.Incident) string {
	return "poll:" + in.ID + ":" + in.Status + ":" + in.LastStatusChangeAt
}
