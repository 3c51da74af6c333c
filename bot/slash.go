package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/ledger"
)

// statusTimeout bounds how long /cato status waits for one component.
const statusTimeout = 15 * time.Second

// handleSlash answers a /cato command after its ack.
func (b *Bot) handleSlash(ctx context.Context, cmd slack.SlashCommand, c command) {
	log := b.log.With("slack_user", cmd.UserID, "command", c.Name, "component", c.Component)
	reply := func(text string) {
		if err := b.post.respond(ctx, cmd.ResponseURL, cmd.ChannelID, cmd.UserID, textMessage(text)); err != nil {
			log.Warn("reply failed", "err", err)
		}
	}
	switch c.Name {
	case "status":
		reply(b.statusReport(ctx, c.Component))
		return
	case "history":
		reply(b.historyReport(ctx, c.Component))
		return
	case "cost":
		reply(b.costReport(ctx))
		return
	case "escalate":
		b.escalateCommand(ctx, cmd, c.Note, reply)
		return
	}

	if !b.channelAllowed(cmd.ChannelID, cmd.ChannelName) {
		reply(fmt.Sprintf(":no_entry: `/cato %s` changes systems, so it works only in #%s.", c.Name, b.opts.ChannelName))
		b.audit(ctx, ledger.Entry{Actor: cmd.UserID, Action: "refuse", Component: c.Component, Summary: "/cato " + cmd.Text, Result: "wrong channel", Channel: cmd.ChannelID})
		return
	}
	if ok, why := b.mayAct(ctx, cmd.UserID); !ok {
		reply(":no_entry: " + why + ".")
		b.audit(ctx, ledger.Entry{Actor: cmd.UserID, Action: "refuse", Component: c.Component, Summary: "/cato " + cmd.Text, Result: "not allowed", Channel: cmd.ChannelID})
		log.Info("step refused", "reason", "not allowed")
		return
	}
	if c.Name == actions.VerbTier {
		b.tierCommand(ctx, cmd, c.Args[0], reply)
		return
	}
	req, err := b.resolveRequest(ctx, c.request())
	if err != nil {
		reply(":x: " + actions.Explain(err))
		return
	}
	if _, err := b.preview(ctx, req, cmd.UserID, cmd.ChannelID, ""); err != nil {
		text := ":x: " + actions.Explain(err)
		if actions.KindOf(err) == actions.KindUsage {
			if u, ok := usage[c.Name]; ok {
				text += "\nUsage: " + u
			}
		}
		reply(text)
		log.Info("preview refused", "err", err)
	}
}

// resolveRequest fills in what the ledger knows: a rollback of a SageMaker
// component goes back to the count before the bot's last change of it.
func (b *Bot) resolveRequest(ctx context.Context, req actions.Request) (actions.Request, error) {
	if req.Verb != actions.VerbRollback || len(req.Args) > 0 {
		return req, nil
	}
	if req.Component != actions.Shadow && req.Component != actions.NLI {
		return req, nil
	}
	last, err := b.opts.Ledger.LastChange(ctx, req.Component)
	if errors.Is(err, ledger.ErrNotFound) {
		return req, nil
	}
	if err != nil {
		return req, fmt.Errorf("ledger: read last change of %s: %w", req.Component, err)
	}
	for _, ch := range last.Changes {
		if ch.Field == "instances" {
			req.Args = []string{ch.From}
		}
	}
	return req, nil
}

// prepare plans req from live state and works out whether it needs approval.
func (b *Bot) prepare(ctx context.Context, req actions.Request, requester string) (ledger.Pending, error) {
	a, err := b.opts.Actions.Lookup(req.Component)
	if err != nil {
		return ledger.Pending{}, err
	}
	plan, err := a.Plan(ctx, req)
	if err != nil {
		return ledger.Pending{}, err
	}
	reasons := b.approvalReasons(ctx, plan)
	now := b.now()
	ttl := b.opts.Access.ButtonTTL
	if len(reasons) > 0 {
		ttl = b.opts.Access.ApprovalTTL
	}
	return ledger.Pending{
		ID:          newID(),
		Request:     req,
		Plan:        plan,
		RequestedBy: requester,
		Created:     now,
		Expires:     now.Add(ttl),
		Approval:    strings.Join(reasons, "; "),
		State:       ledger.StatePending,
	}, nil
}

// preview plans req, posts the preview with Confirm and Cancel in channel
// (in threadTS's thread when set) and records it.
func (b *Bot) preview(ctx context.Context, req actions.Request, user, channel, threadTS string) (ledger.Pending, error) {
	p, err := b.prepare(ctx, req, user)
	if err != nil {
		return p, err
	}
	p.Channel = channel
	if err := b.opts.Ledger.SavePending(ctx, p); err != nil {
		return p, fmt.Errorf("ledger: save pending step: %w", err)
	}
	m := previewMessage(p, "")
	m.ThreadTS = threadTS
	ts, err := b.post.post(ctx, channel, m)
	if err != nil {
		return p, err
	}
	p, err = b.opts.Ledger.UpdatePending(ctx, p.ID, func(q *ledger.Pending) error {
		q.MessageTS = ts
		q.ThreadTS = ts
		if threadTS != "" {
			q.ThreadTS = threadTS
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("ledger: save pending step: %w", err)
	}
	b.audit(ctx, ledger.Entry{Actor: user, Action: "request", Component: p.Plan.Component, Summary: p.Plan.Summary, Channel: channel, ThreadTS: p.ThreadTS})
	return p, nil
}

// approvalReasons lists why plan needs a second person, if it does.
func (b *Bot) approvalReasons(ctx context.Context, plan actions.Plan) []string {
	var reasons []string
	for _, p := range append([]actions.Plan{plan}, plan.Extra...) {
		if p.Downtime {
			reasons = append(reasons, "it causes downtime")
		}
		if p.Component == actions.Terraform && p.Verb != "plan" {
			reasons = append(reasons, "it applies Terraform to production")
		}
		lim := b.opts.Limits[p.Component]
		for _, ch := range p.Changes {
			from, to, ok := ch.Ints()
			if !ok {
				continue
			}
			if to < from && to*2 < from {
				reasons = append(reasons, fmt.Sprintf("it scales %s down by more than half (%d → %d)", ch.Field, from, to))
			} else if why := lim.Beyond(from, to); why != "" {
				reasons = append(reasons, why)
			}
		}
		if lim.Cooldown > 0 {
			last, err := b.opts.Ledger.LastChange(ctx, p.Component)
			if err == nil {
				if ago := b.now().Sub(last.At); ago < lim.Cooldown {
					reasons = append(reasons, fmt.Sprintf("%s was changed %s ago, within its cooldown of %s", p.Component, ago.Round(time.Second), lim.Cooldown))
				}
			}
		}
	}
	return dedupe(reasons)
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// statusReport reads every component, or one, at the same time.
func (b *Bot) statusReport(ctx context.Context, only string) string {
	names := b.opts.Actions.Names()
	if only != "" {
		names = []string{only}
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		list   []actions.Status
		failed = map[string]string{}
	)
	for _, name := range names {
		a := b.opts.Actions[name]
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			s, err := a.Status(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[name] = actions.Explain(err)
				return
			}
			if s.Component == "" {
				s.Component = name
			}
			list = append(list, s)
		})
	}
	var metrics []string
	var metricsErr error
	if b.opts.Metrics != nil && only == "" {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			metrics, metricsErr = b.opts.Metrics(ctx)
		})
	}
	wg.Wait()
	text := statusText(list, failed, names)
	if text == "" {
		text = "No components are configured."
	}
	switch {
	case metricsErr != nil:
		text += "\n*Key metrics*: could not read: " + escape(actions.Explain(metricsErr))
	case len(metrics) > 0:
		text += "\n*Key metrics* (runbook thresholds)"
		for _, m := range metrics {
			text += "\n    • " + escape(m)
		}
	}
	return text
}

// costReport is /cato cost: recommendations when they can be read, and the
// runbook's notes.
func (b *Bot) costReport(ctx context.Context) string {
	if b.opts.Cost == nil {
		return costText
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	text, err := b.opts.Cost(ctx)
	if err != nil {
		return costText + "\n:warning: I could not read Compute Optimizer's recommendations: " + escape(actions.Explain(err))
	}
	return text
}

// historyReport lists recent audit entries.
func (b *Bot) historyReport(ctx context.Context, component string) string {
	entries, err := b.opts.Ledger.History(ctx, component, 20)
	if err != nil {
		b.log.Warn("history read failed", "err", err)
		return ":x: I could not read the history: the ledger did not answer."
	}
	if len(entries) == 0 {
		return "No actions recorded yet."
	}
	var sb strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&sb, "%s · <@%s> · %s · %s", e.Time.UTC().Format("2006-01-02 15:04 UTC"), e.Actor, e.Action, escape(e.Summary))
		if e.ApprovedBy != "" {
			fmt.Fprintf(&sb, " · approved by <@%s>", e.ApprovedBy)
		}
		if e.Result != "" {
			fmt.Fprintf(&sb, " · %s", escape(e.Result))
		}
		if e.ThreadTS != "" && e.Channel != "" {
			fmt.Fprintf(&sb, " · <%s|thread>", threadLink(e.Channel, e.ThreadTS))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func threadLink(channel, ts string) string {
	return fmt.Sprintf("https://slack.com/archives/%s/p%s", channel, strings.ReplaceAll(ts, ".", ""))
}

const costText = "*Cost notes from the runbook* (read only; catobot never buys anything)\n" +
	"• At 10M users SageMaker is about $275K/month; a 3-year Compute Savings Plan saves about 64% (~$100K/month). Buy it in the AWS console after review.\n" +
	"• Night-mode curiosity batch can run on Spot: about 70% cheaper, interruptions acceptable for batch.\n" +
	"• Right-size monthly with Compute Optimizer's EC2 recommendations."

func textMessage(text string) message {
	return message{Text: text, Blocks: sections(text)}
}

func (b *Bot) audit(ctx context.Context, e ledger.Entry) {
	if err := b.opts.Ledger.Audit(ctx, e); err != nil {
		b.log.Error("audit write failed", "err", err, "action", e.Action)
	}
}
