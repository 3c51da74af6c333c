package bot

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/ledger"
)

// Slack's Block Kit limits.
// https://api.slack.com/reference/block-kit/blocks#section
const (
	maxSectionText = 3000
	maxBlocks      = 50
	// maxText bounds a message's fallback text; Slack truncates at 40,000.
	// https://api.slack.com/methods/chat.postMessage#truncating
	maxText = 39000
)

// Action ids of the bot's buttons. A button's value is only an opaque id of
// a record in the ledger; what the click does is decided from that record.
const (
	actionRun      = "step_run"
	actionApprove  = "step_approve"
	actionCancel   = "step_cancel"
	actionUndo     = "step_undo"
	actionRollback = "step_rollback"
	actionDismiss  = "step_dismiss"
	actionAck      = "pd_ack"
	actionResolve  = "pd_resolve"
	actionEscalate = "pd_escalate"
)

// message is one Slack message: fallback text, blocks and the thread.
type message struct {
	Text     string
	Blocks   []slack.Block
	ThreadTS string
}

func (m message) options() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(truncate(m.Text, maxText), false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if m.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadTS))
	}
	return opts
}

// plain is m without blocks, for when Slack refuses them.
func (m message) plain() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(truncate(m.Text, maxText), false), slack.MsgOptionBlocks()}
	if m.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadTS))
	}
	return opts
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// sections splits mrkdwn text into as many section blocks as Slack's limit
// on one section's text needs, breaking at line ends where it can.
func sections(text string) []slack.Block {
	var out []slack.Block
	for text != "" && len(out) < maxBlocks-5 {
		chunk := text
		if len(chunk) > maxSectionText {
			chunk = truncate(text, maxSectionText-1)
			chunk = strings.TrimSuffix(chunk, "…")
			if i := strings.LastIndex(chunk, "\n"); i > maxSectionText/2 {
				chunk = chunk[:i+1]
			}
		}
		text = text[len(chunk):]
		out = append(out, section(chunk))
	}
	return out
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func contextBlock(text string) slack.Block {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, text, false, false))
}

func button(actionID, label, value, style string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	if style != "" {
		b.Style = slack.Style(style)
	}
	return b
}

func actionsBlock(blockID string, buttons ...*slack.ButtonBlockElement) slack.Block {
	var els []slack.BlockElement
	for _, b := range buttons {
		els = append(els, b)
	}
	return slack.NewActionBlock(blockID, els...)
}

// cardView is what an incident's card shows, kept so that later events can
// redraw it.
type cardView struct {
	Incident alerts.Incident `json:"incident"`
	Match    *alerts.Match   `json:"match,omitempty"`
	// PendingID is the suggested step, if any.
	PendingID string `json:"pending_id,omitempty"`
	// Suggestion is the step in words, or why there is none.
	Suggestion string   `json:"suggestion"`
	Warnings   []string `json:"warnings,omitempty"`
	// Approval says why the suggested step needs a second person.
	Approval string `json:"approval,omitempty"`
	// StepLabel is the suggested step's button label.
	StepLabel string `json:"step_label,omitempty"`
	// Acted says who acted on the suggestion and how; once set, the step
	// button is gone.
	Acted string `json:"acted,omitempty"`
	// Agent is who caused the incident's latest change.
	Agent string `json:"agent,omitempty"`
	// Grouped are related incidents folded into this card.
	Grouped []string `json:"grouped,omitempty"`
}

var statusIcon = map[string]string{
	"triggered":    ":red_circle:",
	"acknowledged": ":large_yellow_circle:",
	"resolved":     ":large_green_circle:",
}

func incidentTitle(in alerts.Incident) string {
	if in.Number > 0 {
		return fmt.Sprintf("[#%d] %s", in.Number, in.Title)
	}
	return in.Title
}

// cardMessage renders an incident card.
func cardMessage(v cardView) message {
	in := v.Incident
	title := incidentTitle(in)
	state := in.Status
	if state == "" {
		state = "triggered"
	}
	who := ""
	switch {
	case state == "acknowledged" && v.Agent != "":
		who = " by " + v.Agent
	case state == "resolved" && v.Agent != "":
		who = " by " + v.Agent
	}
	head := fmt.Sprintf("*%s* — %s %s%s", escape(title), statusIcon[state], state, who)
	var facts []string
	if in.Urgency != "" {
		facts = append(facts, "urgency "+in.Urgency)
	}
	if in.Priority != "" {
		facts = append(facts, in.Priority)
	}
	if in.Service != "" {
		facts = append(facts, "service "+escape(in.Service))
	}
	if len(in.Assignees) > 0 {
		facts = append(facts, "assigned to "+escape(strings.Join(in.Assignees, ", ")))
	}
	if in.URL != "" {
		facts = append(facts, fmt.Sprintf("<%s|open in PagerDuty>", in.URL))
	}
	blocks := []slack.Block{section(head)}
	if len(facts) > 0 {
		blocks = append(blocks, contextBlock(strings.Join(facts, " · ")))
	}
	if len(v.Grouped) > 0 {
		blocks = append(blocks, contextBlock(fmt.Sprintf("%d related incidents grouped here: %s", len(v.Grouped), strings.Join(v.Grouped, ", "))))
	}

	rule := "No runbook step applies to this alert."
	if v.Match != nil {
		rule = "Runbook rule: " + escape(v.Match.Text)
	}
	text := rule
	if v.Suggestion != "" {
		text += "\nSuggested step: *" + escape(v.Suggestion) + "*"
	}
	for _, w := range v.Warnings {
		text += "\n:warning: " + escape(w)
	}
	if v.Approval != "" {
		text += "\n:lock: Needs a second person's approval: " + escape(v.Approval)
	}
	if v.Acted != "" {
		text += "\n" + v.Acted
	}
	blocks = append(blocks, sections(text)...)

	var buttons []*slack.ButtonBlockElement
	if v.PendingID != "" && v.Acted == "" && state != "resolved" {
		label := v.StepLabel
		if label == "" {
			label = "Run step"
		}
		buttons = append(buttons, button(actionRun, label, v.PendingID, "primary"), button(actionDismiss, "Dismiss", v.PendingID, ""))
	}
	if state != "resolved" {
		if state != "acknowledged" {
			buttons = append(buttons, button(actionAck, "Acknowledge", in.ID, ""))
		}
		buttons = append(buttons, button(actionEscalate, "Escalate", in.ID, ""), button(actionResolve, "Resolve", in.ID, "danger"))
	}
	if len(buttons) > 0 {
		blocks = append(blocks, actionsBlock("card_"+in.ID, buttons...))
	}
	fallback := fmt.Sprintf("%s — %s%s", title, state, who)
	if v.Suggestion != "" && v.Acted == "" && state != "resolved" {
		fallback += " — suggested: " + v.Suggestion
	}
	return message{Text: fallback, Blocks: blocks}
}

// previewMessage renders a step waiting for a click: the preview of a
// slash command, its approval request, or its final state.
func previewMessage(p ledger.Pending, note string) message {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*", escape(p.Plan.Summary))
	if p.Plan.Target != "" {
		fmt.Fprintf(&b, " (`%s`)", p.Plan.Target)
	}
	fmt.Fprintf(&b, "\nRequested by <@%s>", p.RequestedBy)
	for _, x := range p.Plan.Extra {
		fmt.Fprintf(&b, "\nAlso, in the same confirmation: *%s*", escape(x.Summary))
	}
	for _, w := range allWarnings(p.Plan) {
		fmt.Fprintf(&b, "\n:warning: %s", escape(w))
	}
	if p.Plan.Downtime {
		b.WriteString("\n:rotating_light: This step causes downtime.")
	}
	if p.Approval != "" {
		fmt.Fprintf(&b, "\n:lock: Needs a second person's approval: %s", escape(p.Approval))
	}
	if note != "" {
		b.WriteString("\n" + note)
	}
	blocks := sections(b.String())
	switch p.State {
	case ledger.StatePending:
		if p.Approval != "" && p.ApprovedBy == "" {
			blocks = append(blocks, actionsBlock("step_"+p.ID,
				button(actionApprove, "Approve", p.ID, "primary"),
				button(actionCancel, "Cancel", p.ID, "")))
		} else {
			blocks = append(blocks, actionsBlock("step_"+p.ID,
				button(actionRun, "Confirm", p.ID, "primary"),
				button(actionCancel, "Cancel", p.ID, "")))
		}
	}
	return message{Text: "Preview: " + p.Plan.Summary, Blocks: blocks}
}

func allWarnings(p actions.Plan) []string {
	w := append([]string(nil), p.Warnings...)
	for _, x := range p.Extra {
		w = append(w, x.Warnings...)
	}
	return w
}

// escape keeps text from being read as Slack markup.
func escape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

// statusText renders components' live state for /cato status.
func statusText(list []actions.Status, failed map[string]string, order []string) string {
	var b strings.Builder
	byName := map[string]actions.Status{}
	for _, s := range list {
		byName[s.Component] = s
	}
	for _, name := range order {
		if msg, ok := failed[name]; ok {
			fmt.Fprintf(&b, "*%s*: could not read: %s\n", name, escape(msg))
			continue
		}
		s, ok := byName[name]
		if !ok {
			continue
		}
		title := s.Title
		if title == "" {
			title = name
		}
		fmt.Fprintf(&b, "*%s* `%s` — %s\n", escape(title), s.Target, escape(s.State))
		for _, f := range s.Fields {
			fmt.Fprintf(&b, "    • %s: %s\n", escape(f.Name), escape(f.Value))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
