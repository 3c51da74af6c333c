package lease

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisKeyPrefix is put before a Redis lease's name to form its key.
const RedisKeyPrefix = "catobot:lease:"

// RedisClient is what a Redis lease needs of a go-redis client.
type RedisClient interface {
	redis.Scripter
	SetNX(ctx context.Context, key string, value any, expiration time.Duration) *redis.BoolCmd
}

var _ RedisClient = (*redis.Client)(nil)

// RedisElector holds a lease as a Redis or Valkey key whose value is the
// holder id. It takes the key with SET NX PX, renews it every quarter TTL
// with a script that extends it only while it still holds the holder id,
// and deletes it the same way when it stops. A leader that cannot renew for
// half the TTL steps down, before the key can expire and another replica
// take it.
type RedisElector struct {
	client RedisClient
	key    string
	opts   Options
	leader atomic.Bool
}

var _ Elector = (*RedisElector)(nil)

// Redis returns an Elector for the lease opts.Name in the server behind
// client, usually the ledger's client (ledger.Redis.Client).
func Redis(client RedisClient, opts Options) (*RedisElector, error) {
	opts, err := opts.check("redis")
	if err != nil {
		return nil, err
	}
	return &RedisElector{client: client, key: RedisKeyPrefix + opts.Name, opts: opts}, nil
}

// renewScript extends KEYS[1] by ARGV[2] ms if it holds ARGV[1].
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes KEYS[1] if it holds ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// IsLeader implements Elector.
func (e *RedisElector) IsLeader() bool { return e.leader.Load() }

// Run implements Elector.
func (e *RedisElector) Run(ctx context.Context, onStart func(ctx context.Context), onStop func()) {
	for {
		sent := time.Now()
		ok, err := e.acquire(ctx)
		if err != nil && ctx.Err() == nil {
			e.opts.Logger.Warn("lease acquire failed", "err", err)
		}
		if ok {
			e.lead(ctx, sent, onStart, onStop)
		}
		if !sleep(ctx, e.opts.TTL/4) {
			return
		}
	}
}

// acquire takes the key, or renews it if this holder already has it (after
// a restart with the same holder id).
func (e *RedisElector) acquire(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.TTL/4)
	defer cancel()

	ok, err := e.client.SetNX(ctx, e.key, e.opts.HolderID, e.opts.TTL).Result()
	if err != nil || ok {
		return ok, err
	}
	return e.renew(ctx)
}

func (e *RedisElector) renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, e.client, []string{e.key},
		e.opts.HolderID, e.opts.TTL.Milliseconds()).Int()
	return n == 1, err
}

// lead runs one term: it renews the key until that fails or ctx ends, then
// stops onStart, calls onStop and releases the key. renewed is when the
// last successful renewal was sent.
func (e *RedisElector) lead(
	ctx context.Context,
	renewed time.Time,
	onStart func(ctx context.Context),
	onStop func(),
) {
	e.opts.Logger.Info("lease acquired")
	t := term{leader: &e.leader}
	t.start(ctx, onStart)

	tick := time.NewTicker(e.opts.TTL / 4)
	for e.keep(ctx, tick.C, &renewed) {
	}
	tick.Stop()

	t.stop()
	if onStop != nil {
		onStop()
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.TTL/4)
	defer cancel()
	if err := releaseScript.Run(rctx, e.client, []string{e.key}, e.opts.HolderID).Err(); err != nil {
		e.opts.Logger.Warn("lease release failed", "err", err)
	}
	e.opts.Logger.Info("lease released")
}

// keep waits for the next tick and renews the key, reporting whether this
// process still leads.
func (e *RedisElector) keep(ctx context.Context, tick <-chan time.Time, renewed *time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-tick:
	}

	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, e.opts.TTL/4)
	ok, err := e.renew(rctx)
	cancel()
	switch {
	case ok:
		*renewed = sent
		return true
	case err == nil:
		e.opts.Logger.Warn("lease lost to another holder")
		return false
	case ctx.Err() != nil:
		return false
	case time.Since(*renewed) >= e.opts.TTL/2:
		e.opts.Logger.Warn("lease renew failed, stepping down", "err", err)
		return false
	default:
		e.opts.Logger.Debug("lease renew failed", "err", err)
		return true
	}
}
