package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/ledger"
)

const (
	// bucketInbox holds accepted webhook events until they are handled.
	bucketInbox = "webhook_inbox"
	// bucketInboxTaken marks who replays an orphaned event.
	bucketInboxTaken = "webhook_inbox_taken"
	// inboxTTL bounds how long an unhandled event is kept.
	inboxTTL = 7 * 24 * time.Hour
)

// inbox keeps accepted webhook events in the ledger, with the process that
// accepted them, until they have reached the bot.
type inbox struct {
	store ledger.Store
	owner string
}

var _ alerts.Inbox = inbox{}

type kept struct {
	Owner string          `json:"owner"`
	Event json.RawMessage `json:"event"`
}

func (i inbox) Put(ctx context.Context, id string, event []byte) error {
	raw, err := json.Marshal(kept{Owner: i.owner, Event: event})
	if err != nil {
		return err
	}
	return i.store.Put(ctx, bucketInbox, id, raw, inboxTTL)
}

func (i inbox) Done(ctx context.Context, id string) error {
	return i.store.Delete(ctx, bucketInbox, id)
}

// orphans returns the events kept by processes that have stopped, each
// taken over by this process so that no other replays it too.
func (i inbox) orphans(ctx context.Context, alive func(ctx context.Context, owner string) bool) (map[string][]byte, error) {
	all, err := i.store.List(ctx, bucketInbox)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for id, raw := range all {
		var k kept
		if json.Unmarshal(raw, &k) != nil || k.Owner == i.owner || alive(ctx, k.Owner) {
			continue
		}
		won, err := i.store.Create(ctx, bucketInboxTaken, id+":"+k.Owner, []byte(i.owner), inboxTTL)
		if err != nil || !won {
			continue
		}
		if err := i.Put(ctx, id, k.Event); err != nil {
			continue
		}
		out[id] = k.Event
	}
	return out, nil
}

// replayOrphans hands the webhook, until ctx ends, every event a stopped
// process accepted and did not handle.
func replayOrphans(ctx context.Context, box inbox, hook *alerts.Webhook, alive func(context.Context, string) bool, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		events, err := box.orphans(ctx, alive)
		if err != nil && ctx.Err() == nil {
			log.Warn("webhook inbox read failed", "err", err)
		}
		if len(events) > 0 {
			if n, err := hook.Replay(ctx, events); err != nil && ctx.Err() == nil {
				log.Warn("webhook replay stopped", "replayed", n, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
