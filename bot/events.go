package bot

import (
	"context"
	"regexp"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// mentionPrefix matches a leading mention of a user.
var mentionPrefix = regexp.MustCompile(`^\s*<@([A-Z0-9]+)(\|[^>]*)?>\s*`)

// handleEventsAPI treats a message that starts by mentioning the bot as a
// /cato command. One message can arrive both as a message event and as an
// app_mention: it is answered once, keyed on the message itself. Edited
// messages are never run again.
func (b *Bot) handleEventsAPI(ctx context.Context, evt socketmode.Event) {
	ev, ok := evt.Data.(slackevents.EventsAPIEvent)
	if !ok {
		return
	}
	var channel, ts, text, user string
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		channel, ts, text, user = inner.Channel, inner.TimeStamp, inner.Text, inner.User
	case *slackevents.MessageEvent:
		if inner.SubType != "" || inner.BotID != "" {
			return
		}
		channel, ts, text, user = inner.Channel, inner.TimeStamp, inner.Text, inner.User
	default:
		return
	}
	m := mentionPrefix.FindStringSubmatch(text)
	if user == "" || ts == "" || m == nil {
		return
	}
	if b.opts.BotUserID != "" && m[1] != b.opts.BotUserID {
		return
	}
	first, err := b.opts.Ledger.FirstSeen(ctx, "slack_message", channel+":"+ts)
	if err != nil {
		b.log.Warn("mention dedupe failed", "err", err)
		return
	}
	if !first {
		return
	}
	cmd := slack.SlashCommand{Command: "/cato", Text: strings.TrimSpace(text[len(m[0]):]), UserID: user, ChannelID: channel}
	if channel == b.opts.Channel {
		cmd.ChannelName = b.opts.ChannelName
	}
	parsed, err := parseCommand(cmd.Text, b.opts.Actions)
	if err != nil || parsed.Name == "help" {
		reply := helpText
		if err != nil {
			reply = ":x: " + err.Error()
		}
		_ = b.post.ephemeral(ctx, channel, user, textMessage(reply))
		return
	}
	b.handleSlash(ctx, cmd, parsed)
}
