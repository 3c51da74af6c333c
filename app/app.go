// Package app wires catobot together: configuration and environment in,
// clients for Slack, PagerDuty, AWS and Kubernetes, the bot, the webhook
// listener and the background work, until the context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"k8s.io/klog/v2"

	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/bot"
	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/ledger"
	"github.com/thinktank/catobot/pager"
)

// Options configure Run.
type Options struct {
	Config config.Config
	Env    Env
	// Listen is the HTTP address for the webhook, /healthz, /readyz and
	// /metrics.
	Listen string
	DryRun bool
	Logger *slog.Logger
	// Started, if set, is called with the HTTP listener's address once
	// the bot is serving.
	Started func(addr string)
	// Hooks observe the bot, for metrics and tests.
	Hooks bot.Hooks
	// PostGap spaces posts to one channel; zero keeps Slack's one a second.
	PostGap time.Duration
}

// slackTimeout bounds each Slack Web API call, so a Slack that accepts a
// connection and never answers cannot hang the bot.
const slackTimeout = 30 * time.Second

// Run serves until ctx is done or the Slack socket cannot be kept open.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := opts.Config
	metrics := instrument(&opts)
	// client-go logs through klog; send it to the same structured log.
	klog.SetSlogLogger(log.With("component", "kubernetes"))

	store, err := ledger.Open(ctx, cfg.Ledger.URL, cfg.Ledger.Dir)
	if err != nil {
		return err
	}
	defer store.Close()
	led := ledger.New(store, cfg.Ledger.EventTTL)

	awsCfg, err := loadAWS(ctx, metrics)
	if err != nil {
		return err
	}
	set, err := buildActionsWith(cfg, awsCfg, opts.DryRun, log)
	if err != nil {
		return err
	}
	readMetrics, err := metricsReader(cfg, awsCfg, log)
	if err != nil {
		return err
	}
	readCost, err := costReporter(cfg, awsCfg, log)
	if err != nil {
		return err
	}

	// The listener comes first, so a wrong --listen fails before any
	// outside call.
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	defer ln.Close()

	api := slack.New(opts.Env.SlackBotToken.Reveal(),
		slack.OptionAppLevelToken(opts.Env.SlackAppToken.Reveal()),
		slack.OptionAPIURL(slackAPIURL(opts.Env.SlackAPIURL)),
		slack.OptionHTTPClient(metrics.SlackHTTPClient(&http.Client{Timeout: slackTimeout})))
	actx, cancel := context.WithTimeout(ctx, slackTimeout)
	auth, err := api.AuthTestContext(actx)
	cancel()
	if err != nil {
		return fmt.Errorf("slack: check SLACK_BOT_TOKEN with auth.test: %w", err)
	}
	watcher := bot.NewSocketWatcher(log.With("component", "slack"))
	socket := socketmode.New(api, socketmode.OptionDebug(true), socketmode.OptionLog(watcher))

	pd, err := newPager(cfg, opts.Env, log, metrics)
	if err != nil {
		return err
	}
	holder := owner()
	elector, err := newElector(cfg.Lease, store, holder, log.With("component", "lease"))
	if err != nil {
		return err
	}

	b := bot.New(bot.Options{
		API:          api,
		Socket:       socket,
		Watcher:      watcher,
		Channel:      cfg.Slack.Channel,
		ChannelName:  cfg.Slack.Channel,
		BotUserID:    auth.UserID,
		Actions:      set,
		Limits:       limits(cfg),
		Ledger:       led,
		Pager:        pagerOrNil(pd),
		PagerMessage: pager.Message,
		Trigger:      trigger(pd, opts.Env),
		Metrics:      readMetrics,
		Tiers:        lookupTier,
		Cost:         readCost,
		OnCall:       onCall(pd),
		Access:       cfg.Access,
		Escalation:   cfg.Escalation,
		DryRun:       opts.DryRun,
		Owner:        holder,
		Heartbeat:    cfg.Ledger.Heartbeat,
		Logger:       log.With("component", "bot"),
		Hooks:        opts.Hooks,
		PostGap:      opts.PostGap,
	})

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	ready := make(chan struct{})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-ready:
			_, _ = w.Write([]byte("ready\n"))
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})

	var hook *alerts.Webhook
	box := inbox{store: store, owner: holder}
	if len(opts.Env.WebhookSecrets) > 0 {
		hook, err = alerts.NewWebhook(alerts.WebhookOptions{
			Secrets: opts.Env.WebhookSecrets,
			Seen:    func(ctx context.Context, id string) (bool, error) { return led.FirstSeen(ctx, "pagerduty", id) },
			Reader:  readerOrNil(pd),
			Sink:    metrics.Sink(b),
			Rules:   cfg.Rules,
			Logger:  log.With("component", "webhook"),
			Retry:   pagerRetry,
			Inbox:   box,
		})
		if err != nil {
			return err
		}
		mux.Handle("POST /webhooks/pagerduty", hook)
	} else {
		log.Warn("webhook off", "reason", "PAGERDUTY_WEBHOOK_SECRET is not set")
		mux.HandleFunc("POST /webhooks/pagerduty", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "webhook secret not configured", http.StatusServiceUnavailable)
		})
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if hook != nil {
			_ = hook.Shutdown(sctx)
		}
	}()

	var poller *alerts.Poller
	if pd != nil && cfg.PagerDuty.PollInterval > 0 {
		poller, err = alerts.NewPoller(alerts.PollerOptions{
			Lister:   pd,
			Reader:   pd,
			Seen:     func(ctx context.Context, id string) (bool, error) { return led.FirstSeen(ctx, "pagerduty_poll", id) },
			Sink:     metrics.Sink(b),
			Rules:    cfg.Rules,
			Interval: cfg.PagerDuty.PollInterval,
			Logger:   log.With("component", "poller"),
			Leader:   elector.IsLeader,
			Retry:    pagerRetry,
		})
		if err != nil {
			return err
		}
	}

	go b.Heartbeat(ctx)
	go elector.Run(ctx, func(lctx context.Context) {
		log.Info("leading", "holder_id", holder)
		if poller != nil {
			go func() { _ = poller.Run(lctx) }()
		}
		if hook != nil {
			go replayOrphans(lctx, box, hook, b.Alive, cfg.Ledger.Heartbeat, log)
		}
		b.Adopt(lctx)
	}, nil)
	close(ready)
	log.Info("catobot serving", "listen", ln.Addr().String(), "channel", cfg.Slack.Channel, "components", set.Names(), "dry_run", opts.DryRun)
	if opts.Started != nil {
		opts.Started(ln.Addr().String())
	}
	return b.Run(ctx)
}

func slackAPIURL(u string) string {
	if u == "" {
		return slack.APIURL
	}
	return u
}

func owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
