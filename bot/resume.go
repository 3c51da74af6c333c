package bot

import (
	"context"
	"errors"
	"time"

	"github.com/thinktank/catobot/ledger"
)

// Heartbeats tell live processes from dead ones, so that a step whose
// process died is followed to its end by another.
const (
	bucketOwners = "owners"
	bucketFollow = "follow"
	// DefaultHeartbeat is how often a process says it is alive.
	DefaultHeartbeat = 10 * time.Second
	// heartbeatMisses is how many heartbeats a process may miss before
	// its steps are followed by another.
	heartbeatMisses = 3
)

// Heartbeat says, until ctx ends, that this process is alive, so that
// others leave its running steps alone.
func (b *Bot) Heartbeat(ctx context.Context) {
	b.every(ctx, b.beat)
}

// Adopt picks up, until ctx ends, every running step whose process has
// stopped, following it to its end and posting the result in its thread.
// With several replicas only the leader runs it.
func (b *Bot) Adopt(ctx context.Context) {
	b.every(ctx, b.adoptOrphans)
}

func (b *Bot) every(ctx context.Context, f func(context.Context)) {
	t := time.NewTicker(b.opts.Heartbeat)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Bot) beat(ctx context.Context) {
	err := b.opts.Ledger.Store().Put(ctx, bucketOwners, b.opts.Owner, []byte(b.now().UTC().Format(time.RFC3339)), heartbeatMisses*b.opts.Heartbeat)
	if err != nil && ctx.Err() == nil {
		b.log.Warn("heartbeat failed", "err", err)
	}
}

// adoptOrphans follows running steps whose owner has no heartbeat.
func (b *Bot) adoptOrphans(ctx context.Context) {
	running, err := b.opts.Ledger.Running(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("running steps read failed", "err", err)
		}
		return
	}
	for _, e := range running {
		if e.Owner == b.opts.Owner {
			continue
		}
		_, err := b.opts.Ledger.Store().Get(ctx, bucketOwners, e.Owner)
		if err == nil || !errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		// One process adopts each orphan, however many look at once.
		won, err := b.opts.Ledger.Store().Create(ctx, bucketFollow, e.ID+":"+e.Owner, []byte(b.opts.Owner), 0)
		if err != nil || !won {
			continue
		}
		dead := e.Owner
		e.Owner = b.opts.Owner
		if err := b.opts.Ledger.SaveExecution(ctx, e); err != nil {
			b.log.Warn("adopt failed", "execution", e.ID, "err", err)
			continue
		}
		log := b.log.With("pending_id", e.ID, "component", e.Plan.Component)
		log.Info("following step of stopped process", "previous_owner", dead)
		text := ":arrows_counterclockwise: catobot restarted while this step ran; following it to its end."
		_, _ = b.post.post(ctx, e.Channel, message{Text: text, Blocks: sections(text), ThreadTS: e.ThreadTS})
		b.spawn(ctx, func(ctx context.Context) { b.follow(ctx, e, log) })
	}
}

// Alive reports whether the process named owner has a fresh heartbeat.
// When the ledger cannot say, it answers true, so nothing is taken over
// on a guess.
func (b *Bot) Alive(ctx context.Context, owner string) bool {
	if owner == b.opts.Owner {
		return true
	}
	_, err := b.opts.Ledger.Store().Get(ctx, bucketOwners, owner)
	return err == nil || !errors.Is(err, ledger.ErrNotFound)
}
