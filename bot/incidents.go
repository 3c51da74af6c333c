package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/ledger"
)

// Ledger buckets the bot keeps beside the ledger's own.
const (
	// bucketViews holds each card's cardView, by incident ID.
	bucketViews = "card_views"
	// bucketMessages maps "channel:ts" of a card to its incident ID.
	bucketMessages = "card_messages"
	// bucketButtons maps "channel:ts" of a message with step buttons to
	// the pending step or execution they act on.
	bucketButtons = "buttons"
	// bucketGroups maps a storm group key to the card's incident ID.
	bucketGroups = "card_groups"
)

// groupWindow is how long related incidents fold into one card.
const groupWindow = 10 * time.Minute

// HandleEvent keeps the incident's one card in step with PagerDuty.
func (b *Bot) HandleEvent(ctx context.Context, e alerts.Event) {
	log := b.log.With("incident", e.Incident.ID, "event_type", e.Type)
	var err error
	switch e.Type {
	case alerts.IncidentTriggered:
		err = b.incidentTriggered(ctx, e, log)
	case alerts.IncidentAnnotated:
		err = b.incidentAnnotated(ctx, e)
	case alerts.IncidentAcknowledged, alerts.IncidentUnacknowledged, alerts.IncidentEscalated,
		alerts.IncidentReassigned, alerts.IncidentResolved:
		err = b.incidentChanged(ctx, e, log)
	default:
		log.Debug("event ignored")
		return
	}
	if err != nil {
		log.Error("incident event failed", "err", err)
	}
}

func (b *Bot) incidentTriggered(ctx context.Context, e alerts.Event, log *slog.Logger) error {
	v := cardView{Incident: e.Incident, Match: e.Match}
	if v.Incident.Status == "" {
		v.Incident.Status = "triggered"
	}
	// A storm folds related incidents into the card already open for them.
	if host, ok := b.groupHost(ctx, e); ok {
		return b.foldInto(ctx, host, e)
	}
	won, err := b.opts.Ledger.CreateCard(ctx, ledger.Card{IncidentID: e.Incident.ID, Channel: b.opts.Channel})
	if err != nil {
		return fmt.Errorf("ledger: create card: %w", err)
	}
	if !won {
		return b.incidentChanged(ctx, e, log)
	}
	var p ledger.Pending
	if e.Match != nil {
		p, err = b.prepare(ctx, e.Match.Request, "")
		switch {
		case err != nil:
			v.Suggestion = fmt.Sprintf("`/cato %s` — but I could not prepare it: %s", e.Match.Request.String(), explainErr(err))
		default:
			p.Channel = b.opts.Channel
			p.IncidentID = e.Incident.ID
			v.PendingID = p.ID
			v.Suggestion = p.Plan.Summary
			v.Warnings = allWarnings(p.Plan)
			v.Approval = p.Approval
			v.StepLabel = stepLabel(p.Plan.Verb, p.Plan.Component)
			if e.Match.Rule.Escalate {
				v.Warnings = append(v.Warnings, "this rule also calls for escalating to "+b.team())
			}
			if err := b.opts.Ledger.SavePending(ctx, p); err != nil {
				return fmt.Errorf("ledger: save suggested step: %w", err)
			}
		}
	}
	channel, ts, err := b.post.postTo(ctx, b.opts.Channel, cardMessage(v))
	if err != nil {
		return err
	}
	if p.ID != "" {
		if _, err := b.opts.Ledger.UpdatePending(ctx, p.ID, func(q *ledger.Pending) error {
			q.Channel, q.MessageTS, q.ThreadTS = channel, ts, ts
			return nil
		}); err != nil {
			return fmt.Errorf("ledger: save suggested step: %w", err)
		}
	}
	if err := b.saveCard(ctx, ledger.Card{IncidentID: e.Incident.ID, Channel: channel, TS: ts, PendingID: p.ID}, v); err != nil {
		return err
	}
	log.Info("card posted", "matched", e.Match != nil)
	return nil
}

func stepLabel(verb, component string) string {
	titles := map[string]string{"shadow": "Shadow Self", "nli": "NLI", "ray": "Ray Serve", "cache": "cache", "dynamo": "DynamoDB", "opensearch": "OpenSearch", "terraform": "Terraform"}
	t := titles[component]
	if t == "" {
		t = component
	}
	switch verb {
	case "rollback":
		return "Roll back " + t
	case "replicas":
		return "Add replicas"
	case "hpa":
		return "Change HPA"
	}
	return "Scale " + t
}

// groupKey names what makes incidents related: the same suggested step on
// the same service.
func groupKey(e alerts.Event) string {
	if e.Match == nil {
		return ""
	}
	return e.Incident.ServiceID + "|" + e.Match.Request.String()
}

// groupHost claims the storm group of e's step for e's incident, or
// returns the incident whose open card already holds the group. The claim
// is atomic, so incidents of one storm handled at the same time, on any
// replica, fold into one card.
func (b *Bot) groupHost(ctx context.Context, e alerts.Event) (string, bool) {
	key := groupKey(e)
	if key == "" {
		return "", false
	}
	store := b.opts.Ledger.Store()
	won, err := store.Create(ctx, bucketGroups, key, []byte(e.Incident.ID), groupWindow)
	if err != nil || won {
		return "", false
	}
	host, err := store.Get(ctx, bucketGroups, key)
	if err != nil || string(host) == e.Incident.ID {
		return "", false
	}
	// The host's card may still be on its way to Slack.
	var v cardView
	if !settle(ctx, func() bool {
		v, _, err = b.loadCard(ctx, string(host))
		return err == nil
	}) {
		return "", false
	}
	if v.Incident.Status == "resolved" {
		// A resolved card takes no more incidents: this one starts the
		// group afresh.
		_ = store.Put(ctx, bucketGroups, key, []byte(e.Incident.ID), groupWindow)
		return "", false
	}
	return string(host), true
}

// foldInto adds a related incident to another incident's card.
func (b *Bot) foldInto(ctx context.Context, host string, e alerts.Event) error {
	_, c, err := b.loadCard(ctx, host)
	if err != nil {
		return err
	}
	label := fmt.Sprintf("#%d", e.Incident.Number)
	if e.Incident.Number == 0 {
		label = e.Incident.ID
	}
	// The folded incident points at the host's card, so its own events
	// update that card.
	if _, err := b.opts.Ledger.CreateCard(ctx, ledger.Card{IncidentID: e.Incident.ID, Channel: c.Channel, TS: c.TS}); err != nil {
		return fmt.Errorf("ledger: create card: %w", err)
	}
	_, _, err = b.changeCard(ctx, host, func(v *cardView) error {
		if slices.Contains(v.Grouped, label) {
			return errNoChange
		}
		v.Grouped = append(v.Grouped, label)
		return nil
	})
	return err
}

func (b *Bot) saveCard(ctx context.Context, c ledger.Card, v cardView) error {
	if err := b.opts.Ledger.SetCard(ctx, c); err != nil {
		return fmt.Errorf("ledger: save card: %w", err)
	}
	if err := b.opts.Ledger.Store().Put(ctx, bucketMessages, c.Channel+":"+c.TS, []byte(c.IncidentID), 0); err != nil {
		return fmt.Errorf("ledger: save card: %w", err)
	}
	return b.saveView(ctx, c.IncidentID, v)
}

func (b *Bot) saveView(ctx context.Context, id string, v cardView) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bot: encode card: %w", err)
	}
	if err := b.opts.Ledger.Store().Put(ctx, bucketViews, id, raw, 0); err != nil {
		return fmt.Errorf("ledger: save card view: %w", err)
	}
	return nil
}

// errNoChange tells changeCard that change left the view as it was.
var errNoChange = errors.New("bot: card unchanged")

// changeCard applies change to the view of the card showing incident id,
// atomically against other processes and goroutines changing it at once,
// then redraws the card from the view as stored, so the last redraw shows
// every change.
func (b *Bot) changeCard(ctx context.Context, id string, change func(v *cardView) error) (cardView, ledger.Card, error) {
	store := b.opts.Ledger.Store()
	for range 32 {
		v, c, err := b.loadCard(ctx, id)
		if err != nil {
			return v, c, err
		}
		old, err := store.Get(ctx, bucketViews, c.IncidentID)
		if err != nil {
			return v, c, err
		}
		if err := change(&v); errors.Is(err, errNoChange) {
			return v, c, nil
		} else if err != nil {
			return v, c, err
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return v, c, fmt.Errorf("bot: encode card: %w", err)
		}
		ok, err := store.Swap(ctx, bucketViews, c.IncidentID, old, raw)
		if err != nil {
			return v, c, fmt.Errorf("ledger: save card view: %w", err)
		}
		if !ok {
			continue
		}
		if latest, _, err := b.loadCard(ctx, id); err == nil {
			v = latest
		}
		return v, c, b.post.update(ctx, c.Channel, c.TS, cardMessage(v))
	}
	return cardView{}, ledger.Card{}, fmt.Errorf("bot: update card of %s: too much contention", id)
}

// loadCard returns the view and place of the card showing incident id.
// A folded incident answers with its host's card.
func (b *Bot) loadCard(ctx context.Context, id string) (cardView, ledger.Card, error) {
	c, err := b.opts.Ledger.Card(ctx, id)
	if err != nil {
		return cardView{}, c, err
	}
	if c.TS == "" {
		return cardView{}, c, fmt.Errorf("bot: card of %s is still being posted: %w", id, ledger.ErrNotFound)
	}
	host := id
	if h, err := b.opts.Ledger.Store().Get(ctx, bucketMessages, c.Channel+":"+c.TS); err == nil {
		host = string(h)
	}
	raw, err := b.opts.Ledger.Store().Get(ctx, bucketViews, host)
	if err != nil {
		return cardView{}, c, err
	}
	var v cardView
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, c, fmt.Errorf("bot: decode card of %s: %w", id, err)
	}
	c.IncidentID = host
	return v, c, nil
}

// incidentChanged redraws the card after PagerDuty changed the incident.
func (b *Bot) incidentChanged(ctx context.Context, e alerts.Event, log *slog.Logger) error {
	_, c, err := b.loadCard(ctx, e.Incident.ID)
	if errors.Is(err, ledger.ErrNotFound) {
		// The bot never saw this incident start: its first card is this one.
		if e.Type == alerts.IncidentTriggered {
			return nil
		}
		e2 := e
		e2.Type = alerts.IncidentTriggered
		return b.incidentTriggered(ctx, e2, log)
	}
	if err != nil {
		return err
	}
	if c.IncidentID != e.Incident.ID {
		// A folded incident's own changes don't redraw the host's card.
		return nil
	}
	v, _, err := b.changeCard(ctx, e.Incident.ID, func(v *cardView) error {
		v.Incident = mergeIncident(v.Incident, e.Incident)
		switch e.Type {
		case alerts.IncidentUnacknowledged:
			v.Incident.Status = "triggered"
		case alerts.IncidentAcknowledged:
			v.Incident.Status = "acknowledged"
		case alerts.IncidentResolved:
			v.Incident.Status = "resolved"
		}
		v.Agent = e.Agent
		return nil
	})
	if err != nil {
		return err
	}
	if v.Incident.Status == "resolved" && v.PendingID != "" && v.Acted == "" {
		_, _ = b.opts.Ledger.UpdatePending(ctx, v.PendingID, func(q *ledger.Pending) error {
			if q.State == ledger.StatePending {
				q.State = ledger.StateCancelled
			}
			return nil
		})
	}
	log.Info("card updated", "status", v.Incident.Status)
	return nil
}

// mergeIncident keeps what the old view knew where the event is silent.
func mergeIncident(old, now alerts.Incident) alerts.Incident {
	if now.Title == "" {
		now.Title = old.Title
	}
	if now.Number == 0 {
		now.Number = old.Number
	}
	if now.URL == "" {
		now.URL = old.URL
	}
	if now.Service == "" {
		now.Service = old.Service
	}
	if now.ServiceID == "" {
		now.ServiceID = old.ServiceID
	}
	if now.Urgency == "" {
		now.Urgency = old.Urgency
	}
	if now.Priority == "" {
		now.Priority = old.Priority
	}
	if now.Status == "" {
		now.Status = old.Status
	}
	if now.Assignees == nil {
		now.Assignees = old.Assignees
	}
	return now
}

func (b *Bot) incidentAnnotated(ctx context.Context, e alerts.Event) error {
	_, c, err := b.loadCard(ctx, e.Incident.ID)
	if err != nil {
		return fmt.Errorf("bot: find card for note: %w", err)
	}
	who := e.Agent
	if who == "" {
		who = "PagerDuty"
	}
	text := fmt.Sprintf(":memo: Note from %s: %s", escape(who), escape(e.Note))
	_, err = b.post.post(ctx, c.Channel, message{Text: text, Blocks: sections(text), ThreadTS: c.TS})
	return err
}

// updateCardActed records on an incident's card who acted on its step.
func (b *Bot) updateCardActed(ctx context.Context, incidentID, note string) {
	_, _, err := b.changeCard(ctx, incidentID, func(v *cardView) error {
		v.Acted = note
		return nil
	})
	if err != nil {
		b.log.Warn("card update failed", "incident", incidentID, "err", err)
	}
}

// email returns the Slack user's email, which PagerDuty knows them by.
func (b *Bot) email(ctx context.Context, user string) (string, error) {
	u, err := b.opts.API.GetUserInfoContext(ctx, user)
	if err != nil {
		return "", fmt.Errorf("slack: read user %s: %w", user, err)
	}
	return u.Profile.Email, nil
}

func explainErr(err error) string {
	return strings.TrimSuffix(actions.Explain(err), ".")
}
