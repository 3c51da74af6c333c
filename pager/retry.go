package pager

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// baseBackoff is the first wait after a 429 that names no reset time;
// each retry doubles it, up to Config.MaxBackoff.
const baseBackoff = time.Second

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 64 << 10

// exchange is what the transport saw of one logical call: the attempts
// made and the last error answer's body. It rides in the request context.
type exchange struct {
	attempts int
	errBody  []byte
}

type exchangeKey struct{}

func withExchange(ctx context.Context) (context.Context, *exchange) {
	ex := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, ex), ex
}

// retryDoer is the HTTP client go-pagerduty uses: it retries HTTP 429
// answers a bounded number of times, waiting as Retry-After or
// ratelimit-reset says, else exponentially, and keeps error bodies.
type retryDoer struct {
	next       pagerduty.HTTPClient
	maxRetries int
	maxWait    time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
	log        *slog.Logger
}

var _ pagerduty.HTTPClient = (*retryDoer)(nil)

// Do sends req, retrying after 429s.
func (d *retryDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex == nil {
		ex = &exchange{}
	}
	for attempt := 0; ; attempt++ {
		ex.attempts++
		resp, err := d.next.Do(req)
		if err != nil {
			return resp, err
		}
		if resp.StatusCode != http.StatusTooManyRequests || attempt >= d.maxRetries {
			keepErrorBody(resp, ex)
			return resp, nil
		}

		wait := d.backoff(attempt, resp.Header)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		d.log.Debug("pagerduty rate limited", "path", req.URL.Path, "attempt", attempt+1, "wait", wait)
		if err := d.sleep(ctx, wait); err != nil {
			return nil, err
		}

		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// rewind returns req ready to be sent again, with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, fmt.Errorf("retry %s %s: request body cannot be replayed", req.Method, req.URL.Path)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("retry %s %s: %w", req.Method, req.URL.Path, err)
	}
	next := req.Clone(req.Context())
	next.Body = body
	return next, nil
}

// keepErrorBody copies an error answer's body into ex and puts it back for
// go-pagerduty to parse.
func keepErrorBody(resp *http.Response, ex *exchange) {
	if resp.StatusCode < 300 {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	ex.errBody = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
}

// backoff returns the wait before retry attempt+1, from the answer's
// Retry-After (seconds or HTTP date) or ratelimit-reset (seconds) header,
// else baseBackoff doubled per attempt; never more than maxWait.
func (d *retryDoer) backoff(attempt int, h http.Header) time.Duration {
	wait := baseBackoff << min(attempt, 16)
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			wait = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			wait = max(t.Sub(d.now()), 0)
		}
	} else if v := h.Get("Ratelimit-Reset"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			wait = time.Duration(secs) * time.Second
		}
	}
	return min(wait, d.maxWait)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
