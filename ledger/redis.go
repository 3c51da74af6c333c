package ledger

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisOpenTimeout bounds the first ping of a Redis ledger.
const redisOpenTimeout = 10 * time.Second

// redisListChunk is how many keys List reads with one MGET.
const redisListChunk = 500

// Redis is a Store in Redis or Valkey, shared by every replica. It needs
// Redis 6.2 or Valkey 7 or later, on one primary (cluster mode is not
// supported).
//
// Keys, all under the store's prefix:
//
//	<prefix>b:<bucket>:<key>  string holding the value, with its own TTL
//	<prefix>i:<bucket>        sorted set indexing the bucket: member is the
//	                          key, score its expiry in Unix ms (+inf for none)
//	<prefix>l:<list>          list; Append is RPUSH and LTRIM in MULTI
//
// Each key is a plain string so that Redis expires it on its own (hash fields
// cannot expire on servers before Redis 7.4 and Valkey 9). The sorted set
// lets List read one bucket without SCAN over a keyspace the store may share
// with an application cache. Every write updates the key and its index entry
// in one Lua script and drops index entries whose score has passed, so the
// index does not grow with expired event ids.
type Redis struct {
	client *redis.Client
	prefix string
}

var _ Store = (*Redis)(nil)

// OpenRedis connects to the Redis or Valkey server at rawURL (redis://,
// rediss://, valkey:// or valkeys://) and keeps keys under prefix. It pings
// the server before returning. Errors never contain the URL's password.
func OpenRedis(rawURL string, prefix string) (*Redis, error) {
	ctx, cancel := context.WithTimeout(context.Background(), redisOpenTimeout)
	defer cancel()
	return openRedis(ctx, rawURL, prefix)
}

func openRedis(ctx context.Context, rawURL string, prefix string) (*Redis, error) {
	opts, redacted, err := RedisOptions(rawURL)
	if err != nil {
		return nil, err
	}

	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, redactErr(fmt.Errorf("ledger: connect to %s: %w", redacted, err), opts.Password)
	}
	return &Redis{client: client, prefix: prefix}, nil
}

// RedisOptions parses a redis://, rediss://, valkey:// or valkeys:// URL
// into go-redis options and returns the URL with its password masked, for
// logs. The URL must name a host. Errors never contain the password.
func RedisOptions(rawURL string) (*redis.Options, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL; keep only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("ledger.url: parse redis url: %w", err)
	}

	pw, _ := u.User.Password()
	redacted := u.Redacted()
	switch u.Scheme {
	case "redis", "rediss":
	case "valkey":
		u.Scheme = "redis"
	case "valkeys":
		u.Scheme = "rediss"
	default:
		return nil, "", fmt.Errorf("ledger.url: unsupported scheme %q; use valkey://, valkeys://, "+
			"redis:// or rediss://", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, "", errors.New("ledger.url: the url names no host")
	}

	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", redactErr(fmt.Errorf("ledger.url: parse %s: %w", redacted, err), pw)
	}
	return opts, redacted, nil
}

// redactedError hides a password that a wrapped error's text may contain.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.err }

func redactErr(err error, password string) error {
	if err == nil || password == "" {
		return err
	}
	msg := err.Error()
	for _, s := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &redactedError{msg: msg, err: err}
}

// Client returns the go-redis client, for a lease on the same server.
func (r *Redis) Client() *redis.Client { return r.client }

func (r *Redis) valueKey(bucket, key string) string { return r.prefix + "b:" + bucket + ":" + key }

func (r *Redis) indexKey(bucket string) string { return r.prefix + "i:" + bucket }

func (r *Redis) listKey(list string) string { return r.prefix + "l:" + list }

func checkBucket(bucket string) error {
	if bucket == "" || strings.Contains(bucket, ":") {
		return fmt.Errorf("ledger: bucket name %q must be non-empty and without ':'", bucket)
	}
	return nil
}

// redisNow is the Lua prelude that sets now to the server's time in ms and
// drops index entries that have expired.
const redisNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
`

// redisSet stores ARGV[2] under KEYS[1] with a ttl of ARGV[3] ms (0 for
// none), indexed in KEYS[2] as ARGV[1]. With ARGV[4] = "nx" it does nothing
// when the key exists. It returns 1 when it stored the value.
var redisSet = redis.NewScript(redisNow + `
local ttl = tonumber(ARGV[3])
local ok
if ttl > 0 then
  if ARGV[4] == 'nx' then
    ok = redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ttl)
  else
    ok = redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
  end
else
  if ARGV[4] == 'nx' then
    ok = redis.call('SET', KEYS[1], ARGV[2], 'NX')
  else
    ok = redis.call('SET', KEYS[1], ARGV[2])
  end
end
if not ok then
  return 0
end
if ttl > 0 then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
else
  redis.call('ZADD', KEYS[2], '+inf', ARGV[1])
end
return 1
`)

// redisSwap replaces KEYS[1] with ARGV[2] if it holds ARGV[1], keeping its
// ttl. It returns -1 when the key is absent, 0 when it holds something else
// and 1 when it swapped.
var redisSwap = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  return -1
end
if cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// redisDelete removes KEYS[1] and its index entry ARGV[1] in KEYS[2].
var redisDelete = redis.NewScript(redisNow + `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

func (r *Redis) set(
	ctx context.Context,
	op, bucket, key string,
	value []byte,
	ttl time.Duration,
	nx bool,
) (bool, error) {
	if err := checkBucket(bucket); err != nil {
		return false, err
	}
	ms := int64(0)
	if ttl > 0 {
		ms = max(ttl.Milliseconds(), 1)
	}
	mode := ""
	if nx {
		mode = "nx"
	}

	keys := []string{r.valueKey(bucket, key), r.indexKey(bucket)}
	n, err := redisSet.Run(ctx, r.client, keys, key, value, ms, mode).Int()
	if err != nil {
		return false, fmt.Errorf("ledger: %s %s %s: %w", op, bucket, key, err)
	}
	return n == 1, nil
}

// Create implements Store with SET NX PX.
func (r *Redis) Create(
	ctx context.Context,
	bucket, key string,
	value []byte,
	ttl time.Duration,
) (bool, error) {
	return r.set(ctx, "create", bucket, key, value, ttl, true)
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	b, err := r.client.Get(ctx, r.valueKey(bucket, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: get %s %s: %w", bucket, key, err)
	}
	return b, nil
}

// Put implements Store.
func (r *Redis) Put(
	ctx context.Context,
	bucket, key string,
	value []byte,
	ttl time.Duration,
) error {
	_, err := r.set(ctx, "put", bucket, key, value, ttl, false)
	return err
}

// Swap implements Store with a compare-and-set Lua script. The key keeps
// its expiry.
func (r *Redis) Swap(ctx context.Context, bucket, key string, old, value []byte) (bool, error) {
	n, err := redisSwap.Run(ctx, r.client, []string{r.valueKey(bucket, key)}, old, value).Int()
	if err != nil {
		return false, fmt.Errorf("ledger: swap %s %s: %w", bucket, key, err)
	}
	if n < 0 {
		return false, ErrNotFound
	}
	return n == 1, nil
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, bucket, key string) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	keys := []string{r.valueKey(bucket, key), r.indexKey(bucket)}
	if err := redisDelete.Run(ctx, r.client, keys, key).Err(); err != nil {
		return fmt.Errorf("ledger: delete %s %s: %w", bucket, key, err)
	}
	return nil
}

// List implements Store. It reads the bucket's index, then the values in
// chunks; a key that has expired is left out.
func (r *Redis) List(ctx context.Context, bucket string) (map[string][]byte, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	members, err := r.client.ZRange(ctx, r.indexKey(bucket), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s: %w", bucket, err)
	}

	out := make(map[string][]byte, len(members))
	for chunk := range slices.Chunk(members, redisListChunk) {
		keys := make([]string, len(chunk))
		for i, m := range chunk {
			keys[i] = r.valueKey(bucket, m)
		}
		vals, err := r.client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("ledger: list %s: %w", bucket, err)
		}
		for i, v := range vals {
			if s, ok := v.(string); ok {
				out[chunk[i]] = []byte(s)
			}
		}
	}
	return out, nil
}

// Append implements Store with RPUSH and LTRIM in one transaction.
func (r *Redis) Append(ctx context.Context, list string, value []byte, keep int) error {
	key := r.listKey(list)
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, value)
		if keep > 0 {
			p.LTrim(ctx, key, int64(-keep), -1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: append %s: %w", list, err)
	}
	return nil
}

// Tail implements Store with LRANGE, reversed.
func (r *Redis) Tail(ctx context.Context, list string, n int) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	vals, err := r.client.LRange(ctx, r.listKey(list), int64(-n), -1).Result()
	if err != nil {
		return nil, fmt.Errorf("ledger: tail %s: %w", list, err)
	}
	out := make([][]byte, 0, len(vals))
	for i := len(vals) - 1; i >= 0; i-- {
		out = append(out, []byte(vals[i]))
	}
	return out, nil
}

// Close implements Store.
func (r *Redis) Close() error { return r.client.Close() }
