// Package bot is catobot's Slack side: it receives socket-mode envelopes,
// acknowledges each at once, and then answers slash commands, carries out
// clicked steps and keeps incident cards in step with PagerDuty. Slack types
// stay in this package; actions and alerts see plain structs.
package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/ledger"
)

// Pager is the part of the PagerDuty client the bot calls. Each call acts as
// the person whose email is given.
type Pager interface {
	Acknowledge(ctx context.Context, id, fromEmail string) error
	Resolve(ctx context.Context, id, fromEmail string) error
	Escalate(ctx context.Context, id, fromEmail string) error
	AddNote(ctx context.Context, id, fromEmail, text string) error
}

// Access says who may change systems and where /cato works.
type Access struct {
	// Users and Groups may run mutating steps (Slack user and user group
	// IDs). When both are empty, nobody may.
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
	// Channels are the channel IDs or names where /cato works; empty means
	// the bot's channel only.
	Channels []string `yaml:"channels"`
	// OnCallOnly requires an approver to be on call now in PagerDuty.
	OnCallOnly bool `yaml:"on_call_only"`
	// ButtonTTL is how long a preview's buttons stay valid.
	ButtonTTL time.Duration `yaml:"button_ttl"`
	// ApprovalTTL is how long a step waits for approval.
	ApprovalTTL time.Duration `yaml:"approval_ttl"`
}

// Escalation names the team that incidents are handed to.
type Escalation struct {
	Team string `yaml:"team"`
	// SlackGroup is the team's user group ID, mentioned in the thread.
	SlackGroup string `yaml:"slack_group"`
	Email      string `yaml:"email"`
}

// Options configure a Bot.
type Options struct {
	API SlackAPI
	// Socket receives envelopes; nil when the bot is driven directly.
	Socket *socketmode.Client
	// Watcher, when set, is the socket's logger; the bot stops when it
	// sees that Socket Mode was turned off.
	Watcher *SocketWatcher
	// Channel is the channel ID for incident cards.
	Channel string
	// BotUserID is the bot's own user, whose mentions it answers.
	BotUserID string
	// ChannelName is its name, for channel checks and messages.
	ChannelName string
	Actions     actions.Set
	Limits      map[string]actions.Limits
	Ledger      *ledger.Ledger
	Pager       Pager
	// Trigger opens a new incident for the escalation team through the
	// Events API and returns its dedup key; nil when no routing key is set.
	Trigger func(ctx context.Context, summary string, details map[string]any) (string, error)
	// Metrics reads the runbook's key metrics against their thresholds,
	// one line each, for /cato status; nil leaves them out.
	Metrics func(ctx context.Context) ([]string, error)
	// Cost writes the read-only cost report for /cato cost; nil shows the
	// runbook's notes only.
	Cost func(ctx context.Context) (string, error)
	// Tiers returns a user-scale plan by name ("1m", "10m").
	Tiers func(name string) (Tier, error)
	// PagerMessage turns a Pager error into words for the person.
	PagerMessage func(error) string
	// OnCall reports whether the Slack user with that email is on call;
	// nil means nobody is checked.
	OnCall     func(ctx context.Context, email string) (bool, error)
	Access     Access
	Escalation Escalation
	DryRun     bool
	// Owner names this process in execution records.
	Owner string
	// Heartbeat is how often the process says it is alive; zero means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// PostGap spaces posts to one channel; zero means Slack's one a second.
	PostGap time.Duration
	// Workers bounds the work running after acks.
	Workers int
	Logger  *slog.Logger
	Now     func() time.Time
	// Hooks lets tests and metrics observe the bot.
	Hooks Hooks
}

// Hooks are optional callbacks observing the bot's work.
type Hooks struct {
	// Received is called when an envelope arrives.
	Received func(envelopeType string)
	// Acked is called after an envelope's ack is sent.
	Acked func(envelopeType string)
	// AckedAfter is called after an envelope's ack is sent, with the time
	// since it arrived.
	AckedAfter func(envelopeType string, d time.Duration)
	// StepDone is called after a step finishes.
	StepDone func(component, result string, d time.Duration)
}

// Bot is the Slack side of catobot.
type Bot struct {
	opts  Options
	post  *poster
	log   *slog.Logger
	now   func() time.Time
	work  chan struct{}
	wg    sync.WaitGroup
	group *groupCache
}

var _ alerts.Sink = (*Bot)(nil)

// New returns a Bot with opts.
func New(opts Options) *Bot {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.Access.ButtonTTL <= 0 {
		opts.Access.ButtonTTL = 30 * time.Minute
	}
	if opts.Access.ApprovalTTL <= 0 {
		opts.Access.ApprovalTTL = 15 * time.Minute
	}
	gap := opts.PostGap
	if gap == 0 {
		gap = time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Owner == "" {
		opts.Owner = newID()[:8]
	}
	return &Bot{
		opts:  opts,
		post:  newPoster(opts.API, gap),
		log:   opts.Logger,
		now:   opts.Now,
		work:  make(chan struct{}, opts.Workers),
		group: newGroupCache(opts.API, time.Minute),
	}
}

// Run receives envelopes until ctx is done. It returns an error when the
// socket cannot be kept open, for example when Socket Mode is turned off
// for the app.
func (b *Bot) Run(ctx context.Context) error {
	if b.opts.Socket == nil {
		return errors.New("bot: no socket-mode client")
	}
	errc := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { errc <- b.opts.Socket.RunContext(sctx) }()
	var disabled <-chan struct{}
	if b.opts.Watcher != nil {
		disabled = b.opts.Watcher.Disabled()
	}

	defer b.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-disabled:
			return errors.New("bot: slack turned Socket Mode off for this app")
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bot: socket mode: %w", err)
		case evt, ok := <-b.opts.Socket.Events:
			if !ok {
				return nil
			}
			b.dispatch(ctx, evt)
		}
	}
}

// dispatch acknowledges an envelope at once and hands its work to a worker.
func (b *Bot) dispatch(ctx context.Context, evt socketmode.Event) {
	received := time.Now()
	if evt.Request != nil && b.opts.Hooks.Received != nil {
		b.opts.Hooks.Received(string(evt.Type))
	}
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Info("slack connecting")
	case socketmode.EventTypeConnected:
		b.log.Info("slack connected")
	case socketmode.EventTypeHello:
		b.log.Debug("slack hello")
	case socketmode.EventTypeConnectionError:
		b.log.Warn("slack connection error", "err", evt.Data)
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn("slack socket error", "type", string(evt.Type))
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		parsed, err := parseCommand(cmd.Text, b.opts.Actions)
		b.ack(evt, slashAck(cmd, parsed, err), received)
		if err != nil || parsed.Name == "help" {
			return
		}
		b.spawn(ctx, func(ctx context.Context) { b.handleSlash(ctx, cmd, parsed) })
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		b.ack(evt, nil, received)
		b.spawn(ctx, func(ctx context.Context) { b.handleInteraction(ctx, cb) })
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		b.ack(evt, nil, received)
		b.spawn(ctx, func(ctx context.Context) { b.handleEventsAPI(ctx, evt) })
	}
}

func (b *Bot) ack(evt socketmode.Event, payload any, received time.Time) {
	var err error
	if payload != nil {
		err = b.opts.Socket.Ack(*evt.Request, payload)
	} else {
		err = b.opts.Socket.Ack(*evt.Request)
	}
	if err != nil {
		b.log.Warn("slack ack failed", "envelope_type", string(evt.Type), "err", err)
		return
	}
	if b.opts.Hooks.Acked != nil {
		b.opts.Hooks.Acked(string(evt.Type))
	}
	if b.opts.Hooks.AckedAfter != nil {
		b.opts.Hooks.AckedAfter(string(evt.Type), time.Since(received))
	}
}

// spawn runs f on a worker, after the ack; it waits for a free worker so
// that a burst queues instead of piling up goroutines without bound.
func (b *Bot) spawn(ctx context.Context, f func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case b.work <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-b.work }()
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("handler panicked", "panic", fmt.Sprint(r))
			}
		}()
		f(context.WithoutCancel(ctx))
	}()
}

// Wait blocks until every spawned handler has finished.
func (b *Bot) Wait() { b.wg.Wait() }

// slashAck is the ack's payload: the usage error, the help, or a note that
// work has started.
func slashAck(cmd slack.SlashCommand, parsed command, err error) map[string]any {
	text := ""
	switch {
	case err != nil:
		text = ":x: " + err.Error()
	case parsed.Name == "help":
		text = helpText
	default:
		text = fmt.Sprintf(":hourglass_flowing_sand: Working on `%s`…", cmd.Text)
	}
	return map[string]any{
		"response_type": "ephemeral",
		"text":          text,
		"blocks":        sections(text),
	}
}

// settleTimeout bounds how long a handler waits for a record another
// goroutine is about to write, such as where a just-posted message landed.
const settleTimeout = 3 * time.Second

// settle calls ready until it reports true or settleTimeout passes, and
// returns its last answer. A click can arrive before the ledger write that
// records the message it was on.
func settle(ctx context.Context, ready func() bool) bool {
	deadline := time.Now().Add(settleTimeout)
	for !ready() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
