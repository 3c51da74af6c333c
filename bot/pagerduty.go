package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/thinktank/catobot/ledger"
)

// incidentClicked acknowledges, resolves or escalates the incident of the
// card that was clicked, in PagerDuty, as the person who clicked. Which
// incident is read from the ledger by the card's message, never from the
// button.
func (b *Bot) incidentClicked(ctx context.Context, c click, log *slog.Logger) {
	var id []byte
	var err error
	settle(ctx, func() bool {
		id, err = b.opts.Ledger.Store().Get(ctx, bucketMessages, c.Channel+":"+c.MessageTS)
		return !errors.Is(err, ledger.ErrNotFound)
	})
	if err != nil {
		log.Warn("incident button on unknown message", "channel", c.Channel, "message_ts", c.MessageTS)
		b.tell(ctx, c, "I have no incident card for that message, so nothing was done.")
		return
	}
	incident := string(id)
	log = log.With("incident", incident)
	if b.opts.Pager == nil {
		b.tell(ctx, c, "PagerDuty is not configured for catobot, so I can't change incidents. Use PagerDuty directly.")
		return
	}
	email, err := b.email(ctx, c.User)
	if err != nil {
		log.Warn("user email read failed", "err", err)
		b.tell(ctx, c, "I could not read your Slack profile, so I can't act in PagerDuty as you. Try again in a minute.")
		return
	}
	if email == "" {
		b.tell(ctx, c, "Your Slack profile shows no email, so PagerDuty can't tell who you are and I won't act as anyone else. Use PagerDuty directly, or make your email visible in Slack.")
		return
	}
	var verb, done string
	switch c.ActionID {
	case actionAck:
		verb, done = "acknowledge", "Acknowledged"
		err = b.opts.Pager.Acknowledge(ctx, incident, email)
	case actionResolve:
		verb, done = "resolve", "Resolved"
		err = b.opts.Pager.Resolve(ctx, incident, email)
	case actionEscalate:
		verb, done = "escalate", "Escalated"
		err = b.opts.Pager.Escalate(ctx, incident, email)
	}
	if err != nil {
		log.Warn("pagerduty call failed", "verb", verb, "err", err)
		b.tell(ctx, c, fmt.Sprintf(":x: I could not %s the incident in PagerDuty: %s", verb, b.pagerMessage(err)))
		return
	}
	b.audit(ctx, ledger.Entry{Actor: c.User, Action: verb, Summary: "incident " + incident, Channel: c.Channel, ThreadTS: c.MessageTS, IncidentID: incident})

	v, _, err := b.changeCard(ctx, incident, func(v *cardView) error {
		switch c.ActionID {
		case actionAck:
			v.Incident.Status = "acknowledged"
		case actionResolve:
			v.Incident.Status = "resolved"
		}
		v.Agent = "<@" + c.User + ">"
		return nil
	})
	if err != nil {
		log.Warn("card update failed", "err", err)
	}
	text := fmt.Sprintf(":white_check_mark: %s in PagerDuty by <@%s> at %s UTC", done, c.User, b.now().UTC().Format("15:04"))
	if c.ActionID == actionEscalate {
		text = b.escalationText(ctx, c.User, incident, v, "")
	}
	m := message{Text: text, Blocks: []slack.Block{contextBlock(text)}, ThreadTS: c.MessageTS}
	if c.ActionID == actionEscalate {
		m.Blocks = sections(text)
	}
	if _, err := b.post.post(ctx, c.Channel, m); err != nil {
		log.Warn("thread reply failed", "err", err)
	}
}

func (b *Bot) team() string {
	if b.opts.Escalation.Team != "" {
		return b.opts.Escalation.Team
	}
	return "consciousness-team"
}

// escalationText mentions the team with the incident's summary and what
// has been tried so far, from the audit trail.
func (b *Bot) escalationText(ctx context.Context, user, incident string, v cardView, note string) string {
	mention := "@" + b.team()
	if g := b.opts.Escalation.SlackGroup; g != "" {
		mention = "<!subteam^" + g + ">"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, ":rotating_light: %s: <@%s> escalated this to %s.", mention, user, b.team())
	if v.Incident.Title != "" {
		fmt.Fprintf(&sb, "\n*%s*", escape(incidentTitle(v.Incident)))
		if v.Match != nil {
			fmt.Fprintf(&sb, " — %s", escape(v.Match.Text))
		}
	}
	if note != "" {
		fmt.Fprintf(&sb, "\nNote: %s", escape(note))
	}
	tried := b.tried(ctx, incident)
	if len(tried) == 0 {
		sb.WriteString("\nTried so far: nothing from catobot yet.")
	} else {
		sb.WriteString("\nTried so far:")
		for _, t := range tried {
			sb.WriteString("\n• " + escape(t))
		}
	}
	if b.opts.Escalation.Email != "" {
		fmt.Fprintf(&sb, "\nContact: %s · on-call channel #%s", b.opts.Escalation.Email, b.opts.ChannelName)
	}
	return sb.String()
}

// tried lists the steps run for an incident, oldest first.
func (b *Bot) tried(ctx context.Context, incident string) []string {
	entries, err := b.opts.Ledger.History(ctx, "", 200)
	if err != nil {
		return nil
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.IncidentID != incident || e.Action != "result" {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s)", e.Summary, e.Result))
	}
	return out
}

// escalateCommand hands the channel's latest open incident, or the thread's,
// to the team; with no incident it says how to page them.
func (b *Bot) escalateCommand(ctx context.Context, cmd slack.SlashCommand, note string, reply func(string)) {
	if ok, why := b.mayAct(ctx, cmd.UserID); !ok {
		reply(":no_entry: " + why + ".")
		return
	}
	if b.opts.Pager == nil {
		reply("PagerDuty is not configured for catobot; reach " + b.team() + " at " + b.opts.Escalation.Email + ".")
		return
	}
	email, err := b.email(ctx, cmd.UserID)
	if err != nil || email == "" {
		reply("Your Slack profile shows no email, so PagerDuty can't tell who you are and I won't act as anyone else.")
		return
	}
	incident, v, c, ok := b.latestOpenCard(ctx)
	if !ok {
		b.escalateWithoutIncident(ctx, cmd, note, reply)
		return
	}
	if err := b.opts.Pager.Escalate(ctx, incident, email); err != nil {
		reply(":x: I could not escalate in PagerDuty: " + b.pagerMessage(err))
		return
	}
	if note != "" {
		_ = b.opts.Pager.AddNote(ctx, incident, email, note)
	}
	b.audit(ctx, ledger.Entry{Actor: cmd.UserID, Action: "escalate", Summary: "incident " + incident, Channel: c.Channel, ThreadTS: c.TS, IncidentID: incident})
	text := b.escalationText(ctx, cmd.UserID, incident, v, note)
	if _, err := b.post.post(ctx, c.Channel, message{Text: text, Blocks: sections(text), ThreadTS: c.TS}); err != nil {
		b.log.Warn("escalation post failed", "err", err)
	}
}

func (b *Bot) latestOpenCard(ctx context.Context) (string, cardView, ledger.Card, bool) {
	views, err := b.opts.Ledger.Store().List(ctx, bucketViews)
	if err != nil {
		return "", cardView{}, ledger.Card{}, false
	}
	var best string
	var bestAt time.Time
	for id := range views {
		v, c, err := b.loadCard(ctx, id)
		if err != nil || v.Incident.Status == "resolved" || c.IncidentID != id {
			continue
		}
		at, _ := time.Parse(time.RFC3339, v.Incident.CreatedAt)
		if best == "" || at.After(bestAt) || (at.Equal(bestAt) && c.TS > "") {
			best, bestAt = id, at
		}
	}
	if best == "" {
		return "", cardView{}, ledger.Card{}, false
	}
	v, c, _ := b.loadCard(ctx, best)
	return best, v, c, true
}

func (b *Bot) pagerMessage(err error) string {
	if b.opts.PagerMessage != nil {
		return b.opts.PagerMessage(err)
	}
	return "PagerDuty refused the request"
}

// escalateWithoutIncident opens an incident for the team through the Events
// API when there is no open card to hand over, and says so in the channel.
func (b *Bot) escalateWithoutIncident(ctx context.Context, cmd slack.SlashCommand, note string, reply func(string)) {
	if b.opts.Trigger == nil {
		reply("There is no open incident to escalate, and no Events API routing key is set to open one. Page " + b.team() + " in PagerDuty or write to " + b.opts.Escalation.Email + ".")
		return
	}
	summary := "Escalated from #" + b.opts.ChannelName + " by catobot"
	if note != "" {
		summary += ": " + note
	}
	key, err := b.opts.Trigger(ctx, summary, map[string]any{"requested_by_slack_user": cmd.UserID, "note": note, "tried": b.tried(ctx, "")})
	if err != nil {
		reply(":x: I could not open an incident for " + b.team() + ": " + b.pagerMessage(err))
		return
	}
	b.audit(ctx, ledger.Entry{Actor: cmd.UserID, Action: "escalate", Summary: "new incident " + key, Channel: cmd.ChannelID})
	text := b.escalationText(ctx, cmd.UserID, "", cardView{}, note) + "\nOpened a new PagerDuty incident for them (dedup key `" + key + "`)."
	if _, err := b.post.post(ctx, cmd.ChannelID, textMessage(text)); err != nil {
		b.log.Warn("escalation post failed", "err", err)
	}
}
