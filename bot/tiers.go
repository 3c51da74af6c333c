package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/ledger"
)

// Tier is one of the runbook's user-scale plans: steps to run in order,
// and lines shown for information only.
type Tier struct {
	Title string
	Steps []actions.Request
	Info  []string
}

const (
	// bucketTiers holds each posted plan card's tierRecord by its ID.
	bucketTiers = "tiers"
	// bucketTierOf maps a step's pending ID to its plan card's ID.
	bucketTierOf = "tier_of"
	actionRunAll = "tier_run_all"
)

// tierRecord is a posted plan card: its steps and who asked for it.
type tierRecord struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Steps       []string `json:"steps"` // pending IDs, in order; "" for a step that could not be prepared
	Notes       []string `json:"notes"` // per step: why it could not be prepared
	Requests    []string `json:"requests"`
	Info        []string `json:"info"`
	RequestedBy string   `json:"requested_by"`
	Channel     string   `json:"channel"`
	TS          string   `json:"ts"`
	Running     bool     `json:"running"`
	Approval    string   `json:"approval,omitempty"`
}

// tierCommand prepares every step of a user-scale plan from live state and
// posts the plan card: each step runnable on its own, or all in order.
func (b *Bot) tierCommand(ctx context.Context, cmd slack.SlashCommand, name string, reply func(string)) {
	if b.opts.Tiers == nil {
		reply("No user-scale plans are configured.")
		return
	}
	tier, err := b.opts.Tiers(name)
	if err != nil {
		reply(":x: " + actions.Explain(err))
		return
	}
	rec := tierRecord{ID: newID(), Title: tier.Title, Info: tier.Info, RequestedBy: cmd.UserID, Channel: cmd.ChannelID}
	var reasons []string
	for _, req := range tier.Steps {
		rec.Requests = append(rec.Requests, req.String())
		p, err := b.prepare(ctx, req, cmd.UserID)
		if err != nil {
			rec.Steps = append(rec.Steps, "")
			rec.Notes = append(rec.Notes, explainErr(err))
			continue
		}
		p.Channel = cmd.ChannelID
		if err := b.opts.Ledger.SavePending(ctx, p); err != nil {
			reply(":x: I could not record the plan; nothing was posted. Try again in a minute.")
			return
		}
		_ = b.opts.Ledger.Store().Put(ctx, bucketTierOf, p.ID, []byte(rec.ID), 0)
		rec.Steps = append(rec.Steps, p.ID)
		rec.Notes = append(rec.Notes, "")
		if p.Approval != "" {
			reasons = append(reasons, p.Plan.Summary+": "+p.Approval)
		}
	}
	rec.Approval = strings.Join(reasons, "; ")
	if err := b.saveTier(ctx, rec); err != nil {
		reply(":x: I could not record the plan; nothing was posted. Try again in a minute.")
		return
	}
	m := b.tierMessage(ctx, rec)
	ts, err := b.post.post(ctx, cmd.ChannelID, m)
	if err != nil {
		reply(":x: I could not post the plan: " + err.Error())
		return
	}
	rec.TS = ts
	_ = b.saveTier(ctx, rec)
	for _, id := range rec.Steps {
		if id == "" {
			continue
		}
		_, _ = b.opts.Ledger.UpdatePending(ctx, id, func(q *ledger.Pending) error {
			q.MessageTS, q.ThreadTS = ts, ts
			return nil
		})
	}
	b.audit(ctx, ledger.Entry{Actor: cmd.UserID, Action: "request", Component: actions.Terraform, Summary: "plan: " + tier.Title, Channel: cmd.ChannelID, ThreadTS: ts})
}

func (b *Bot) saveTier(ctx context.Context, rec tierRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.opts.Ledger.Store().Put(ctx, bucketTiers, rec.ID, raw, 0)
}

func (b *Bot) loadTier(ctx context.Context, id string) (tierRecord, error) {
	var rec tierRecord
	raw, err := b.opts.Ledger.Store().Get(ctx, bucketTiers, id)
	if err != nil {
		return rec, err
	}
	err = json.Unmarshal(raw, &rec)
	return rec, err
}

// tierMessage renders a plan card with each step's state.
func (b *Bot) tierMessage(ctx context.Context, rec tierRecord) message {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*User-scale plan: %s*\nRequested by <@%s>. Steps run in order and stop at the first failure.", escape(rec.Title), rec.RequestedBy)
	var buttons []*slack.ButtonBlockElement
	open := 0
	for i, id := range rec.Steps {
		if id == "" {
			fmt.Fprintf(&sb, "\n%d. `/cato %s` — cannot be prepared: %s", i+1, escape(rec.Requests[i]), escape(rec.Notes[i]))
			continue
		}
		p, err := b.opts.Ledger.Pending(ctx, id)
		if err != nil {
			continue
		}
		state := ""
		switch {
		case p.State == ledger.StateCancelled:
			state = " — cancelled"
		case p.State == ledger.StateClaimed:
			e, err := b.opts.Ledger.Execution(ctx, id)
			switch {
			case err != nil || e.State == ledger.ExecRunning:
				state = " — :hourglass_flowing_sand: running"
			case e.State == ledger.ExecSucceeded:
				state = " — :white_check_mark: done"
			default:
				state = " — :x: failed: " + escape(e.Error)
			}
		default:
			open++
			if len(buttons) < 20 && !rec.Running {
				buttons = append(buttons, button(actionRun, fmt.Sprintf("Run step %d", i+1), id, ""))
			}
		}
		fmt.Fprintf(&sb, "\n%d. *%s*%s", i+1, escape(p.Plan.Summary), state)
		for _, w := range allWarnings(p.Plan) {
			fmt.Fprintf(&sb, "\n      :warning: %s", escape(w))
		}
	}
	for _, info := range rec.Info {
		fmt.Fprintf(&sb, "\n:information_source: %s", escape(info))
	}
	if rec.Approval != "" {
		fmt.Fprintf(&sb, "\n:lock: Running all needs a second person's approval: %s", escape(rec.Approval))
	}
	blocks := sections(sb.String())
	if open > 0 && !rec.Running {
		label := "Run all in order"
		if rec.Approval != "" {
			label = "Approve and run all"
		}
		buttons = append([]*slack.ButtonBlockElement{button(actionRunAll, label, rec.ID, "primary")}, buttons...)
	}
	if len(buttons) > 0 {
		blocks = append(blocks, actionsBlock("tier_"+rec.ID, buttons...))
	}
	return message{Text: "User-scale plan: " + rec.Title, Blocks: blocks}
}

// redrawTier updates a plan card after one of its steps changed.
func (b *Bot) redrawTier(ctx context.Context, pendingID string) bool {
	id, err := b.opts.Ledger.Store().Get(ctx, bucketTierOf, pendingID)
	if err != nil {
		return false
	}
	rec, err := b.loadTier(ctx, string(id))
	if err != nil || rec.TS == "" {
		return true
	}
	if err := b.post.update(ctx, rec.Channel, rec.TS, b.tierMessage(ctx, rec)); err != nil {
		b.log.Warn("plan card update failed", "err", err)
	}
	return true
}

// runAllClicked runs a plan's open steps in order, stopping at the first
// failure. A plan whose steps need approval needs a second person.
func (b *Bot) runAllClicked(ctx context.Context, c click, log *slog.Logger) {
	var rec tierRecord
	var err error
	settle(ctx, func() bool {
		rec, err = b.loadTier(ctx, c.Value)
		return err != nil || rec.TS != ""
	})
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && (rec.Channel != c.Channel || rec.TS != c.MessageTS)) {
		log.Warn("plan button does not match its message")
		b.tell(ctx, c, "That button does not belong to this message, so nothing was done.")
		return
	}
	if err != nil {
		b.tell(ctx, c, "I could not read that plan from my ledger; nothing was done.")
		return
	}
	if ok, why := b.mayAct(ctx, c.User); !ok {
		b.tell(ctx, c, ":no_entry: "+why+".")
		return
	}
	approver := ""
	if rec.Approval != "" {
		if c.User == rec.RequestedBy {
			b.tell(ctx, c, "This plan has steps that need a second person: someone other than you must click it.")
			return
		}
		if why := b.mayApprove(ctx, c.User); why != "" {
			b.tell(ctx, c, ":no_entry: "+why)
			return
		}
		approver = c.User
	}
	// One run of a plan at a time, whoever clicks.
	won, err := b.opts.Ledger.Store().Create(ctx, bucketFollow, "tier:"+rec.ID, []byte(c.User), 0)
	if err != nil || !won {
		b.tell(ctx, c, "That plan is already running; see its thread.")
		return
	}
	rec.Running = true
	_ = b.saveTier(ctx, rec)
	_ = b.post.update(ctx, rec.Channel, rec.TS, b.tierMessage(ctx, rec))
	if approver != "" {
		b.audit(ctx, ledger.Entry{Actor: approver, Action: "approve", Component: actions.Terraform, Summary: "plan: " + rec.Title, Channel: rec.Channel, ThreadTS: rec.TS})
	}
	for i, id := range rec.Steps {
		if id == "" {
			text := fmt.Sprintf(":octagonal_sign: Plan stopped at step %d: it could not be prepared (%s). Fix that and ask for the plan again with `/cato tier`.", i+1, escape(rec.Notes[i]))
			_, _ = b.post.post(ctx, rec.Channel, message{Text: text, Blocks: sections(text), ThreadTS: rec.TS})
			break
		}
		p, err := b.opts.Ledger.Pending(ctx, id)
		if err != nil || p.State != ledger.StatePending {
			continue
		}
		if approver != "" {
			p.ApprovedBy = approver
		}
		p.RequestedBy = rec.RequestedBy
		b.execute(ctx, p, c.User, log)
		e, err := b.opts.Ledger.Execution(ctx, id)
		if err != nil || e.State != ledger.ExecSucceeded {
			text := fmt.Sprintf(":octagonal_sign: Plan stopped at step %d; the steps after it were not run.", i+1)
			_, _ = b.post.post(ctx, rec.Channel, message{Text: text, Blocks: sections(text), ThreadTS: rec.TS})
			break
		}
	}
	rec.Running = false
	_ = b.saveTier(ctx, rec)
	_ = b.opts.Ledger.Store().Delete(ctx, bucketFollow, "tier:"+rec.ID)
	_ = b.post.update(ctx, rec.Channel, rec.TS, b.tierMessage(ctx, rec))
}
