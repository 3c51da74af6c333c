package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// SlackAPI is the part of slack-go's Web API client the bot calls.
type SlackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
}

var _ SlackAPI = (*slack.Client)(nil)

// maxRateLimitWaits bounds how often one post waits out a 429 before it
// gives up; Slack's Retry-After is usually a second or two.
const maxRateLimitWaits = 20

// poster sends messages to Slack. It spaces posts to one channel and waits
// out 429 answers for as long as Slack asks, so that a storm of alerts is
// delivered late rather than dropped.
type poster struct {
	api SlackAPI
	// gap is the least time between two posts to one channel: Slack allows
	// about one message a second per channel.
	// https://api.slack.com/apis/rate-limits#posting-messages
	gap time.Duration

	// hc sends to response_url.
	hc *http.Client

	mu   sync.Mutex
	next map[string]time.Time
}

func newPoster(api SlackAPI, gap time.Duration) *poster {
	return &poster{api: api, gap: gap, next: map[string]time.Time{}, hc: &http.Client{Timeout: 30 * time.Second}}
}

// wait blocks until channel may take another post.
func (p *poster) wait(ctx context.Context, channel string) error {
	if p.gap <= 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	at := p.next[channel]
	if at.Before(now) {
		at = now
	}
	p.next[channel] = at.Add(p.gap)
	p.mu.Unlock()

	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retry calls f until it does not answer 429, waiting as Slack asks.
func retry(ctx context.Context, f func() error) error {
	for i := 0; ; i++ {
		err := f()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || i >= maxRateLimitWaits {
			return err
		}
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// post sends a message and returns its ts. A message Slack refuses for its
// blocks is sent again as plain text, so the person still reads it.
func (p *poster) post(ctx context.Context, channel string, m message) (string, error) {
	_, ts, err := p.postTo(ctx, channel, m)
	return ts, err
}

// postTo is post that also returns the channel's ID, which Slack answers
// with even when the message was sent to the channel's name.
func (p *poster) postTo(ctx context.Context, channel string, m message) (string, string, error) {
	if err := p.wait(ctx, channel); err != nil {
		return "", "", err
	}
	var id, ts string
	err := retry(ctx, func() error {
		var err error
		id, ts, err = p.api.PostMessageContext(ctx, channel, m.options()...)
		return err
	})
	if isInvalidBlocks(err) {
		err = retry(ctx, func() error {
			var err error
			id, ts, err = p.api.PostMessageContext(ctx, channel, m.plain()...)
			return err
		})
	}
	if err != nil {
		return "", "", fmt.Errorf("slack: post message: %w", err)
	}
	if id == "" {
		id = channel
	}
	return id, ts, nil
}

// update replaces the message at ts.
func (p *poster) update(ctx context.Context, channel, ts string, m message) error {
	err := retry(ctx, func() error {
		_, _, _, err := p.api.UpdateMessageContext(ctx, channel, ts, m.options()...)
		return err
	})
	if isInvalidBlocks(err) {
		err = retry(ctx, func() error {
			_, _, _, err := p.api.UpdateMessageContext(ctx, channel, ts, m.plain()...)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("slack: update message: %w", err)
	}
	return nil
}

// ephemeral shows m to user only.
func (p *poster) ephemeral(ctx context.Context, channel, user string, m message) error {
	err := retry(ctx, func() error {
		_, err := p.api.PostEphemeralContext(ctx, channel, user, m.options()...)
		return err
	})
	if isInvalidBlocks(err) {
		err = retry(ctx, func() error {
			_, err := p.api.PostEphemeralContext(ctx, channel, user, m.plain()...)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("slack: post ephemeral: %w", err)
	}
	return nil
}

func isInvalidBlocks(err error) bool {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == "invalid_blocks" || se.Err == "invalid_blocks_format" || se.Err == "msg_too_long"
	}
	return err != nil && (err.Error() == "invalid_blocks" || err.Error() == "invalid_blocks_format")
}

// respond answers a slash command privately through its response_url,
// which reaches the person even where the bot may not post (a channel it
// is not in, a direct message), and falls back to an ephemeral message.
// Slack allows five uses of a response_url within 30 minutes.
// https://api.slack.com/interactivity/handling#message_responses
func (p *poster) respond(ctx context.Context, responseURL, channel, user string, m message) error {
	if responseURL != "" {
		msg := &slack.WebhookMessage{Text: truncate(m.Text, maxText), Blocks: &slack.Blocks{BlockSet: m.Blocks}, ResponseType: slack.ResponseTypeEphemeral}
		err := retry(ctx, func() error { return slack.PostWebhookCustomHTTPContext(ctx, responseURL, p.hc, msg) })
		if err == nil {
			return nil
		}
	}
	return p.ephemeral(ctx, channel, user, m)
}
