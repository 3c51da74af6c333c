package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/ledger"
)

// progressEvery is the least time between two edits of a progress message,
// well inside Slack's chat.update limit.
const progressEvery = 2 * time.Second

// stepTimeout bounds one step from click to result.
const stepTimeout = 45 * time.Minute

// click is one button press, as the bot needs it.
type click struct {
	User      string
	Channel   string
	MessageTS string
	ActionID  string
	Value     string
}

// handleInteraction answers a button press after its ack.
func (b *Bot) handleInteraction(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, act := range cb.ActionCallback.BlockActions {
		c := click{
			User:      cb.User.ID,
			Channel:   cb.Channel.ID,
			MessageTS: cb.Container.MessageTs,
			ActionID:  act.ActionID,
			Value:     act.Value,
		}
		if c.Channel == "" {
			c.Channel = cb.Container.ChannelID
		}
		if c.MessageTS == "" {
			c.MessageTS = cb.Message.Timestamp
		}
		b.handleClick(ctx, c)
	}
}

func (b *Bot) handleClick(ctx context.Context, c click) {
	log := b.log.With("slack_user", c.User, "action", c.ActionID)
	switch c.ActionID {
	case actionRun, actionApprove:
		b.runClicked(ctx, c, log)
	case actionCancel, actionDismiss:
		b.cancelClicked(ctx, c, log)
	case actionUndo, actionRollback:
		b.undoClicked(ctx, c, log)
	case actionAck, actionResolve, actionEscalate:
		b.incidentClicked(ctx, c, log)
	case actionRunAll:
		b.runAllClicked(ctx, c, log)
	default:
		log.Warn("unknown button", "channel", c.Channel)
		b.tell(ctx, c, "That button is not one of mine any more; nothing was done.")
	}
}

// tell shows text to the clicker only.
func (b *Bot) tell(ctx context.Context, c click, text string) {
	if err := b.post.ephemeral(ctx, c.Channel, c.User, textMessage(text)); err != nil {
		b.log.Warn("reply failed", "slack_user", c.User, "err", err)
	}
}

// loadClicked returns the pending step a button names, checking that the
// button is on the message the step was shown in. The button's value is
// only a key: nothing else in the payload is used.
func (b *Bot) loadClicked(ctx context.Context, c click, log *slog.Logger) (ledger.Pending, bool) {
	p, err := b.opts.Ledger.Pending(ctx, c.Value)
	if errors.Is(err, ledger.ErrNotFound) {
		log.Warn("button names no pending step", "channel", c.Channel)
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "refuse", Summary: "click on unknown button", Result: "unknown id", Channel: c.Channel})
		b.tell(ctx, c, "I have no record of that step, so nothing was done. Ask for a fresh preview with `/cato`.")
		return p, false
	}
	if err != nil {
		log.Error("pending step read failed", "err", err)
		b.tell(ctx, c, "I could not read that step from my ledger; nothing was done. Try again in a minute.")
		return p, false
	}
	on := settle(ctx, func() bool {
		if q, err := b.opts.Ledger.Pending(ctx, c.Value); err == nil {
			p = q
		}
		return b.buttonOn(ctx, p, c)
	})
	if !on {
		log.Warn("button does not match its message", "pending_id", p.ID)
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "refuse", Component: p.Plan.Component, Summary: p.Plan.Summary, Result: "altered payload", Channel: c.Channel})
		b.tell(ctx, c, "That button does not belong to this message, so nothing was done.")
		return p, false
	}
	return p, true
}

// buttonOn reports whether the clicked message is one that shows p's
// buttons: its preview or card, or its approval request.
func (b *Bot) buttonOn(ctx context.Context, p ledger.Pending, c click) bool {
	if p.Channel != c.Channel {
		return false
	}
	if p.MessageTS != "" && p.MessageTS == c.MessageTS {
		return true
	}
	key, err := b.opts.Ledger.Store().Get(ctx, bucketButtons, c.Channel+":"+c.MessageTS)
	return err == nil && string(key) == p.ID
}

// runClicked carries out a confirmed or approved step, exactly once.
func (b *Bot) runClicked(ctx context.Context, c click, log *slog.Logger) {
	p, ok := b.loadClicked(ctx, c, log)
	if !ok {
		return
	}
	log = log.With("pending_id", p.ID, "component", p.Plan.Component)
	refuse := func(text, result string) {
		// The audit entry comes first, so /cato history already shows the
		// refusal when the person reads it.
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "refuse", Component: p.Plan.Component, Summary: p.Plan.Summary, Result: result, Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID})
		b.tell(ctx, c, text)
		log.Info("click refused", "reason", result)
	}
	switch p.State {
	case ledger.StateCancelled:
		refuse("That step was cancelled; ask for a fresh preview with `/cato`.", "cancelled")
		return
	case ledger.StateClaimed:
		b.tellAlreadyRun(ctx, c, p)
		return
	}
	if b.now().After(p.Expires) {
		refuse(fmt.Sprintf("That button expired at %s UTC; nothing was done. Ask for a fresh preview with `/cato %s`.", p.Expires.UTC().Format("15:04"), p.Plan.Verb+" "+p.Plan.Component), "expired")
		return
	}
	if ok, why := b.mayAct(ctx, c.User); !ok {
		refuse(":no_entry: "+why+".", "not allowed")
		return
	}
	requester := p.RequestedBy
	if requester == "" {
		requester = c.User
	}
	if p.Approval != "" && p.ApprovedBy == "" {
		if c.ActionID != actionApprove || c.User == requester {
			b.askApproval(ctx, c, p, requester, log)
			return
		}
		if why := b.mayApprove(ctx, c.User); why != "" {
			refuse(":no_entry: "+why, "approver not on call")
			return
		}
		p.ApprovedBy = c.User
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "approve", Component: p.Plan.Component, Summary: p.Plan.Summary, Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID})
	}
	p.RequestedBy = requester
	b.execute(ctx, p, c.User, log)
}

// askApproval records who asked for a step that needs a second person and
// shows the Approve button.
func (b *Bot) askApproval(ctx context.Context, c click, p ledger.Pending, requester string, log *slog.Logger) {
	if c.User == requester && p.RequestedBy != "" && c.ActionID == actionApprove {
		b.tell(ctx, c, "You asked for this step, so someone else must approve it.")
		return
	}
	if p.RequestedBy == "" {
		var err error
		p, err = b.opts.Ledger.UpdatePending(ctx, p.ID, func(q *ledger.Pending) error {
			if q.RequestedBy == "" {
				q.RequestedBy = requester
			}
			return nil
		})
		if err != nil {
			log.Error("pending step update failed", "err", err)
			b.tell(ctx, c, "I could not record your request; nothing was done. Try again in a minute.")
			return
		}
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "request", Component: p.Plan.Component, Summary: p.Plan.Summary, Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID})
	}
	text := fmt.Sprintf(":lock: <@%s> asks to run *%s*. It needs a second person because %s. Another allowed person can approve it until %s UTC.",
		p.RequestedBy, escape(p.Plan.Summary), escape(p.Approval), p.Expires.UTC().Format("15:04"))
	m := textMessage(text)
	m.Blocks = append(m.Blocks, actionsBlock("approve_"+p.ID, button(actionApprove, "Approve", p.ID, "primary"), button(actionCancel, "Cancel", p.ID, "")))
	m.ThreadTS = p.ThreadTS
	ts, err := b.post.post(ctx, p.Channel, m)
	if err != nil {
		log.Warn("approval request post failed", "err", err)
		return
	}
	// The approval message is a second place the step's buttons live.
	_, _ = b.opts.Ledger.UpdatePending(ctx, p.ID, func(q *ledger.Pending) error {
		if q.ThreadTS == "" {
			q.ThreadTS = ts
		}
		return nil
	})
	_ = b.opts.Ledger.Store().Put(ctx, bucketButtons, p.Channel+":"+ts, []byte(p.ID), 0)
}

// mayApprove returns why user may not approve, or "" when they may.
func (b *Bot) mayApprove(ctx context.Context, user string) string {
	if !b.opts.Access.OnCallOnly || b.opts.OnCall == nil {
		return ""
	}
	email, err := b.email(ctx, user)
	if err != nil || email == "" {
		return "approvals need someone on call now, and I can't see your email to check PagerDuty."
	}
	on, err := b.opts.OnCall(ctx, email)
	if err != nil {
		b.log.Warn("on-call check failed", "err", err)
		return "approvals need someone on call now, and PagerDuty did not answer; try again in a minute."
	}
	if !on {
		return "approvals need someone on call now in PagerDuty, and you are not."
	}
	return ""
}

func (b *Bot) tellAlreadyRun(ctx context.Context, c click, p ledger.Pending) {
	e, err := b.opts.Ledger.Execution(ctx, p.ID)
	if err != nil {
		b.tell(ctx, c, "That step has already been started; see the thread.")
		return
	}
	b.tell(ctx, c, fmt.Sprintf("<@%s> already started that step at %s UTC (%s); it runs only once. See the thread.", e.RequestedBy, e.Started.UTC().Format("15:04:05"), e.State))
}

// execute claims the step, checks the live state still matches the
// preview, runs it and reports in the thread.
func (b *Bot) execute(ctx context.Context, p ledger.Pending, clicker string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()

	e := ledger.Execution{
		ID: p.ID, Plan: p.Plan, RequestedBy: p.RequestedBy, ApprovedBy: p.ApprovedBy,
		Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID,
		Started: b.now().UTC(), State: ledger.ExecRunning, Owner: b.opts.Owner,
	}
	won, err := b.opts.Ledger.Claim(ctx, e)
	if err != nil {
		log.Error("claim failed", "err", err)
		b.tell(ctx, click{User: clicker, Channel: p.Channel}, "I could not record the start of that step, so I did not run it. Try again in a minute.")
		return
	}
	if !won {
		b.tellAlreadyRun(ctx, click{User: clicker, Channel: p.Channel}, p)
		return
	}
	_, err = b.opts.Ledger.UpdatePending(ctx, p.ID, func(q *ledger.Pending) error {
		if q.State == ledger.StateCancelled {
			return errCancelled
		}
		q.State = ledger.StateClaimed
		q.ApprovedBy = p.ApprovedBy
		q.RequestedBy = p.RequestedBy
		return nil
	})
	if errors.Is(err, errCancelled) {
		// Cancelled after this click read the step and before its claim.
		e.State, e.Error, e.Finished = ledger.ExecFailed, "cancelled before it started", b.now().UTC()
		_ = b.opts.Ledger.SaveExecution(ctx, e)
		b.tell(ctx, click{User: clicker, Channel: p.Channel}, "That step was cancelled; ask for a fresh preview with `/cato`.")
		return
	}
	if err != nil {
		log.Warn("pending step update failed", "err", err)
	}

	a, err := b.opts.Actions.Lookup(p.Plan.Component)
	if err != nil {
		b.finish(ctx, e, actions.Result{}, err, log)
		return
	}
	req := p.Request
	if req.Component == "" {
		req = requestOf(p.Plan)
	}
	if drift := b.drifted(ctx, a, p.Plan, req); drift != "" {
		b.refuseDrift(ctx, e, req, drift, clicker, log)
		return
	}
	b.audit(ctx, ledger.Entry{Actor: p.RequestedBy, Action: "run", Component: p.Plan.Component, Summary: p.Plan.Summary, ApprovedBy: p.ApprovedBy, Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID})
	b.markOrigin(ctx, p, fmt.Sprintf(":arrow_forward: Started by <@%s>", clicker))

	started := fmt.Sprintf(":arrow_forward: <@%s> started *%s*", clicker, escape(p.Plan.Summary))
	switch {
	case p.ApprovedBy != "" && p.RequestedBy != clicker:
		started += fmt.Sprintf(" (requested by <@%s>, approved by <@%s>)", p.RequestedBy, p.ApprovedBy)
	case p.ApprovedBy != "":
		started += fmt.Sprintf(" (approved by <@%s>)", p.ApprovedBy)
	}
	if b.opts.DryRun {
		started += " (dry run: nothing will change)"
	}
	if _, err := b.post.post(ctx, p.Channel, message{Text: started, Blocks: sections(started), ThreadTS: p.ThreadTS}); err != nil {
		log.Warn("start post failed", "err", err)
	}
	working := fmt.Sprintf(":hourglass_flowing_sand: *%s*: working…", escape(p.Plan.Summary))
	if ts, err := b.post.post(ctx, p.Channel, message{Text: working, Blocks: sections(working), ThreadTS: p.ThreadTS}); err == nil {
		e.ProgressTS = ts
		_ = b.opts.Ledger.SaveExecution(ctx, e)
	}
	e.Before = b.before(ctx, a)

	res, err := b.runPlans(ctx, a, e, log)
	b.finish(ctx, e, res, err, log)
}

// runPlans runs a plan and its extras in order, stopping at the first
// failure, with one progress message kept up to date.
func (b *Bot) runPlans(ctx context.Context, a actions.Action, e ledger.Execution, log *slog.Logger) (actions.Result, error) {
	prog := b.progress(ctx, e)
	defer prog.stop()

	plans := append(append([]actions.Plan(nil), e.Plan.Extra...), e.Plan)
	plans[len(plans)-1].Extra = nil
	var res actions.Result
	var lines []string
	for _, p := range plans {
		act := a
		if p.Component != e.Plan.Component {
			var err error
			if act, err = b.opts.Actions.Lookup(p.Component); err != nil {
				return res, err
			}
		}
		r, err := act.Run(ctx, p, prog.report)
		if err != nil {
			return res, err
		}
		lines = append(lines, r.Summary)
		res = r
	}
	res.Summary = strings.Join(lines, "\n")
	return res, nil
}

// follow picks up an execution another process started and did not finish.
func (b *Bot) follow(ctx context.Context, e ledger.Execution, log *slog.Logger) {
	a, err := b.opts.Actions.Lookup(e.Plan.Component)
	if err != nil {
		b.finish(ctx, e, actions.Result{}, err, log)
		return
	}
	f, ok := a.(actions.Follower)
	if !ok {
		b.finish(ctx, e, actions.Result{}, &actions.Error{Kind: actions.KindInternal, Msg: "catobot restarted while this step ran and cannot follow this kind of step; check the system's state with `/cato status`"}, log)
		return
	}
	prog := b.progress(ctx, e)
	res, err := f.Follow(ctx, e.Plan, prog.report)
	prog.stop()
	b.finish(ctx, e, res, err, log)
}

// finish records the outcome and reports it in the thread.
func (b *Bot) finish(ctx context.Context, e ledger.Execution, res actions.Result, runErr error, log *slog.Logger) {
	e.Finished = b.now().UTC()
	e.Result = res
	e.State = ledger.ExecSucceeded
	if runErr != nil {
		e.State = ledger.ExecFailed
		e.Error = actions.Explain(runErr)
	}
	if err := b.opts.Ledger.SaveExecution(ctx, e); err != nil {
		log.Error("execution save failed", "err", err)
	}
	if b.opts.Hooks.StepDone != nil {
		b.opts.Hooks.StepDone(e.Plan.Component, e.State, e.Finished.Sub(e.Started))
	}

	var m message
	if runErr != nil {
		log.Warn("step failed", "err", runErr)
		text := fmt.Sprintf(":x: *%s* failed: %s", escape(e.Plan.Summary), escape(e.Error))
		m = textMessage(text)
		b.markOrigin(ctx, pendingOf(e), fmt.Sprintf(":x: Failed after <@%s> started it: %s", e.RequestedBy, escape(e.Error)))
	} else {
		log.Info("step done", "result", res.Summary)
		text := ":white_check_mark: " + escape(res.Summary)
		if res.DryRun {
			text = ":information_source: " + escape(res.Summary)
		}
		m = textMessage(text)
		if !res.DryRun {
			m.Blocks = append(m.Blocks, actionsBlock("undo_"+e.ID, button(actionUndo, "Undo", e.ID, "")))
			if err := b.opts.Ledger.SetLastChange(ctx, ledger.LastChange{Component: e.Plan.Component, Plan: e.Plan, At: e.Finished, By: e.RequestedBy, Changes: e.Plan.Changes}); err != nil {
				log.Warn("last change save failed", "err", err)
			}
		}
		done := fmt.Sprintf(":white_check_mark: Done, requested by <@%s>", e.RequestedBy)
		if e.ApprovedBy != "" {
			done += fmt.Sprintf(", approved by <@%s>", e.ApprovedBy)
		}
		b.markOrigin(ctx, pendingOf(e), done)
	}
	m.ThreadTS = e.ThreadTS
	if e.ProgressTS != "" {
		if err := b.post.update(ctx, e.Channel, e.ProgressTS, m); err != nil {
			log.Warn("result update failed", "err", err)
		}
	} else if ts, err := b.post.post(ctx, e.Channel, m); err != nil {
		log.Warn("result post failed", "err", err)
	} else {
		e.ProgressTS = ts
	}
	if runErr == nil && !res.DryRun {
		_ = b.opts.Ledger.Store().Put(ctx, bucketButtons, e.Channel+":"+e.ProgressTS, []byte(e.ID), 0)
		b.healthCheck(ctx, e, log)
	}
	result := e.State
	if e.Error != "" {
		result += ": " + e.Error
	}
	b.audit(ctx, ledger.Entry{Actor: e.RequestedBy, Action: "result", Component: e.Plan.Component, Summary: e.Plan.Summary, ApprovedBy: e.ApprovedBy, Result: result, Channel: e.Channel, ThreadTS: e.ThreadTS, IncidentID: e.IncidentID})
}

func pendingOf(e ledger.Execution) ledger.Pending {
	return ledger.Pending{ID: e.ID, Plan: e.Plan, Channel: e.Channel, ThreadTS: e.ThreadTS, IncidentID: e.IncidentID, RequestedBy: e.RequestedBy}
}

// healthy are the states each system reports when a change has settled.
var healthy = map[string]bool{"InService": true, "available": true, "ACTIVE": true, "Ready": true, "Active": true, "ready": true, "auto-scaling": true}

// healthCheck reads the component after a step and offers a rollback when
// it does not look healthy.
func (b *Bot) healthCheck(ctx context.Context, e ledger.Execution, log *slog.Logger) {
	a, err := b.opts.Actions.Lookup(e.Plan.Component)
	if err != nil {
		return
	}
	ctx2, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	s, err := a.Status(ctx2)
	if err != nil || s.State == "" || healthy[s.State] {
		return
	}
	text := fmt.Sprintf(":warning: Health check: %s reads *%s* after the step. If that is wrong, roll back.", escape(s.Target), escape(s.State))
	m := textMessage(text)
	m.Blocks = append(m.Blocks, actionsBlock("rollback_"+e.ID, button(actionRollback, "Roll back", e.ID, "danger")))
	m.ThreadTS = e.ThreadTS
	ts, err := b.post.post(ctx, e.Channel, m)
	if err != nil {
		log.Warn("health check post failed", "err", err)
		return
	}
	_ = b.opts.Ledger.Store().Put(ctx, bucketButtons, e.Channel+":"+ts, []byte(e.ID), 0)
}

// drifted re-reads the live state and says how it differs from the plan's
// starting point, or returns "" when it does not.
func (b *Bot) drifted(ctx context.Context, a actions.Action, plan actions.Plan, req actions.Request) string {
	// Terraform checks its own saved plan for staleness when it applies.
	if plan.Verb == actions.VerbRollback || plan.Component == actions.Terraform || len(plan.Changes) == 0 {
		return ""
	}
	fresh, err := a.Plan(ctx, req)
	if err != nil {
		if actions.KindOf(err) == actions.KindUsage {
			return actions.Explain(err)
		}
		return "I could not re-read the live state: " + actions.Explain(err)
	}
	for i, ch := range plan.Changes {
		if i < len(fresh.Changes) && fresh.Changes[i].From != ch.From {
			return fmt.Sprintf("%s is now %s, not %s as in the preview", ch.Field, fresh.Changes[i].From, ch.From)
		}
	}
	return ""
}

// requestOf rebuilds an absolute request from a plan's target values, for
// steps recorded before requests were kept.
func requestOf(p actions.Plan) actions.Request {
	req := actions.Request{Component: p.Component, Verb: p.Verb}
	if len(p.Changes) == 1 {
		req.Args = []string{p.Changes[0].To}
		return req
	}
	for _, ch := range p.Changes {
		req.Args = append(req.Args, ch.Field+"="+ch.To)
	}
	return req
}

func (b *Bot) refuseDrift(ctx context.Context, e ledger.Execution, req actions.Request, drift, clicker string, log *slog.Logger) {
	e.State = ledger.ExecFailed
	e.Error = "state changed since the preview: " + drift
	e.Finished = b.now().UTC()
	_ = b.opts.Ledger.SaveExecution(ctx, e)
	log.Info("step refused", "reason", "drift", "drift", drift)
	b.audit(ctx, ledger.Entry{Actor: clicker, Action: "refuse", Component: e.Plan.Component, Summary: e.Plan.Summary, Result: e.Error, Channel: e.Channel, ThreadTS: e.ThreadTS})
	text := fmt.Sprintf(":warning: Not run: %s. Someone else may have changed it. Here is a fresh preview.", escape(drift))
	_, _ = b.post.post(ctx, e.Channel, message{Text: text, Blocks: sections(text), ThreadTS: e.ThreadTS})
	b.markOrigin(ctx, pendingOf(e), ":warning: Not run: the state changed since this preview.")
	if _, err := b.preview(ctx, req, clicker, e.Channel, e.ThreadTS); err != nil {
		b.tell(ctx, click{User: clicker, Channel: e.Channel}, ":x: "+actions.Explain(err))
	}
}

// before reads the component's state ahead of a step, for the record.
func (b *Bot) before(ctx context.Context, a actions.Action) []actions.Field {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	s, err := a.Status(ctx)
	if err != nil {
		return nil
	}
	return append([]actions.Field{{Name: "state", Value: s.State}}, s.Fields...)
}

// markOrigin redraws the message the step was started from: the preview
// loses its buttons and says what happened; a card says who acted.
func (b *Bot) markOrigin(ctx context.Context, p ledger.Pending, note string) {
	if p.IncidentID != "" {
		b.updateCardActed(ctx, p.IncidentID, note)
		return
	}
	if b.redrawTier(ctx, p.ID) {
		return
	}
	if p.MessageTS == "" {
		stored, err := b.opts.Ledger.Pending(ctx, p.ID)
		if err != nil {
			return
		}
		p = stored
	}
	if p.MessageTS == "" {
		return
	}
	p.State = ledger.StateClaimed
	if err := b.post.update(ctx, p.Channel, p.MessageTS, previewMessage(p, note)); err != nil {
		b.log.Warn("preview update failed", "err", err)
	}
}

// cancelClicked cancels a pending step or dismisses a card's suggestion.
func (b *Bot) cancelClicked(ctx context.Context, c click, log *slog.Logger) {
	p, ok := b.loadClicked(ctx, c, log)
	if !ok {
		return
	}
	if ok, why := b.mayAct(ctx, c.User); !ok {
		b.tell(ctx, c, ":no_entry: "+why+".")
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "refuse", Component: p.Plan.Component, Summary: p.Plan.Summary, Result: "not allowed", Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID})
		return
	}
	p, err := b.opts.Ledger.UpdatePending(ctx, p.ID, func(q *ledger.Pending) error {
		if q.State == ledger.StateClaimed {
			return errAlreadyClaimed
		}
		q.State = ledger.StateCancelled
		return nil
	})
	if errors.Is(err, errAlreadyClaimed) {
		b.tellAlreadyRun(ctx, c, p)
		return
	}
	if err != nil {
		log.Error("cancel failed", "err", err)
		b.tell(ctx, c, "I could not record the cancel; try again in a minute.")
		return
	}
	verb := "Cancelled"
	if c.ActionID == actionDismiss {
		verb = "Dismissed"
	}
	b.audit(ctx, ledger.Entry{Actor: c.User, Action: strings.ToLower(verb), Component: p.Plan.Component, Summary: p.Plan.Summary, Channel: p.Channel, ThreadTS: p.ThreadTS, IncidentID: p.IncidentID})
	b.markOrigin(ctx, p, fmt.Sprintf(":no_entry_sign: %s by <@%s>", verb, c.User))
}

var (
	errAlreadyClaimed = errors.New("bot: step already claimed")
	errCancelled      = errors.New("bot: step cancelled")
)

// undoClicked prepares the reverse of a finished step, through the same
// preview, guardrails and approvals as any step.
func (b *Bot) undoClicked(ctx context.Context, c click, log *slog.Logger) {
	key, err := b.opts.Ledger.Store().Get(ctx, bucketButtons, c.Channel+":"+c.MessageTS)
	if err != nil || string(key) != c.Value {
		log.Warn("undo button does not match its message")
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "refuse", Summary: "undo click on another message", Result: "altered payload", Channel: c.Channel})
		b.tell(ctx, c, "That button does not belong to this message, so nothing was done.")
		return
	}
	e, err := b.opts.Ledger.Execution(ctx, c.Value)
	if err != nil {
		b.tell(ctx, c, "I have no record of that step, so there is nothing to undo.")
		return
	}
	if ok, why := b.mayAct(ctx, c.User); !ok {
		b.audit(ctx, ledger.Entry{Actor: c.User, Action: "refuse", Component: e.Plan.Component, Summary: "undo " + e.Plan.Summary, Result: "not allowed", Channel: e.Channel, ThreadTS: e.ThreadTS})
		b.tell(ctx, c, ":no_entry: "+why+".")
		return
	}
	req, ok := reverse(e.Plan)
	if !ok {
		b.tell(ctx, c, "I can't work out the reverse of that step by myself; use `/cato rollback "+e.Plan.Component+"`.")
		return
	}
	if _, err := b.preview(ctx, req, c.User, e.Channel, e.ThreadTS); err != nil {
		b.tell(ctx, c, ":x: "+actions.Explain(err))
	}
}

// reverse returns the request that puts back what p changed.
func reverse(p actions.Plan) (actions.Request, bool) {
	if p.Component == actions.Ray && p.Verb == actions.VerbRollback {
		return actions.Request{Component: p.Component, Verb: actions.VerbRollback}, true
	}
	// A Terraform step's -var values last one apply: planning again with
	// none puts back what the committed tfvars say.
	if p.Component == actions.Terraform {
		return actions.Request{Component: p.Component, Verb: "apply"}, true
	}
	if len(p.Changes) == 0 {
		return actions.Request{}, false
	}
	verb := p.Verb
	if verb == actions.VerbRollback {
		verb = actions.VerbScale
	}
	req := actions.Request{Component: p.Component, Verb: verb}
	if len(p.Changes) == 1 && (p.Changes[0].Field == "instances" || p.Changes[0].Field == "replicas" || p.Changes[0].Field == "node_type") {
		req.Args = []string{p.Changes[0].From}
		return req, true
	}
	for _, ch := range p.Changes {
		req.Args = append(req.Args, ch.Field+"="+ch.From)
	}
	return req, true
}

// progressor keeps one progress message in the thread up to date.
type progressor struct {
	b    *Bot
	e    ledger.Execution
	mu   sync.Mutex
	line string
	sent string
	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

func (b *Bot) progress(ctx context.Context, e ledger.Execution) *progressor {
	p := &progressor{b: b, e: e, wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.wg.Go(func() { p.loop(ctx) })
	return p
}

// report takes a progress line; it never blocks.
func (p *progressor) report(line string) {
	p.mu.Lock()
	p.line = line
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *progressor) loop(ctx context.Context) {
	for {
		select {
		case <-p.done:
			return
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		line := p.line
		p.mu.Unlock()
		if line != p.sent && p.e.ProgressTS != "" {
			text := fmt.Sprintf(":hourglass_flowing_sand: *%s*: %s", escape(p.e.Plan.Summary), escape(line))
			if err := p.b.post.update(ctx, p.e.Channel, p.e.ProgressTS, message{Text: text, Blocks: sections(text), ThreadTS: p.e.ThreadTS}); err != nil {
				p.b.log.Warn("progress update failed", "err", err)
			}
			p.sent = line
		}
		select {
		case <-time.After(progressEvery):
		case <-p.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (p *progressor) stop() {
	close(p.done)
	p.wg.Wait()
}
