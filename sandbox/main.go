package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/thinktank/catobot/app"
)

// MainOptions configure Main.
type MainOptions struct {
	// Scenario is a scenario file; empty plays the built-in one.
	Scenario string
	// Out receives the transcript.
	Out io.Writer
	// Log receives the bot's log.
	Log *slog.Logger
}

// Main plays a scenario end to end: it starts the fakes, runs the real bot
// against them, plays the steps, and prints the channel as a person reads
// it with the systems' state before and after. It fails when any step does.
func Main(ctx context.Context, o MainOptions) error {
	sc, err := LoadScenario(o.Scenario)
	if err != nil {
		return err
	}
	r, err := Launch(ctx, sc.State, o.Log)
	if err != nil {
		return err
	}
	defer r.Stop()

	out := o.Out
	fmt.Fprintf(out, "Scenario: %s\n\nSystems before:\n%s\nSteps:\n", sc.Name, r.Sandbox.Describe())
	playErr := (&Player{Sandbox: r.Sandbox, WebhookURL: r.WebhookURL, Out: out}).Play(ctx, sc)
	r.Settle()
	fmt.Fprintf(out, "\n#cato-oncall as a person reads it:\n")
	var sb strings.Builder
	_ = r.Sandbox.Slack.Render(&sb)
	fmt.Fprintf(out, "%s\nSystems after:\n%s", indent(sb.String()), r.Sandbox.Describe())
	if playErr != nil {
		return playErr
	}
	fmt.Fprintln(out, "\nAll steps passed.")
	return nil
}

// Running is a bot running against a sandbox.
type Running struct {
	Sandbox    *Sandbox
	WebhookURL string
	cancel     context.CancelFunc
	done       chan error
}

// Launch starts a sandbox seeded with st and the real bot against it, and
// waits until the bot is connected to the fake Slack.
func Launch(ctx context.Context, st State, log *slog.Logger) (*Running, error) {
	return LaunchWith(ctx, st, log, nil)
}

// LaunchWith is Launch with a chance to adjust the bot's options, such as
// hooks that observe it, before it starts.
func LaunchWith(ctx context.Context, st State, log *slog.Logger, adjust func(*app.Options)) (*Running, error) {
	sb, err := Start(st)
	if err != nil {
		return nil, err
	}
	if err := sb.Apply(); err != nil {
		sb.Close()
		return nil, err
	}
	env, err := app.ReadEnv(os.Getenv)
	if err != nil {
		sb.Close()
		return nil, err
	}
	opts := sb.Options(env)
	opts.Logger = log
	if adjust != nil {
		adjust(&opts)
	}
	addr := make(chan string, 1)
	opts.Started = func(a string) { addr <- a }

	rctx, cancel := context.WithCancel(ctx)
	r := &Running{Sandbox: sb, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(rctx, opts) }()

	select {
	case a := <-addr:
		r.WebhookURL = "http://" + a + "/webhooks/pagerduty"
	case err := <-r.done:
		cancel()
		sb.Close()
		return nil, fmt.Errorf("bot did not start: %w", err)
	case <-time.After(30 * time.Second):
		r.Stop()
		return nil, errors.New("bot did not start within 30s")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if open, _ := sb.Slack.Connections(); open > 0 {
			return r, nil
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, errors.New("bot did not connect to the sandbox's Slack within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Done delivers the bot's exit error once it stops by itself.
func (r *Running) Done() <-chan error { return r.done }

// Settle waits briefly for the bot's last messages to land.
func (r *Running) Settle() { time.Sleep(300 * time.Millisecond) }

// Stop stops the bot and the fakes.
func (r *Running) Stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
	}
	r.Sandbox.Close()
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// Describe prints the systems' state for a person.
func (s *Sandbox) Describe() string {
	var b strings.Builder
	for _, name := range s.SageMaker.Endpoints() {
		e, _ := s.SageMaker.Endpoint(name)
		for _, v := range e.Variants {
			fmt.Fprintf(&b, "  SageMaker %s/%s: %d instances (%s)\n", name, v.Name, v.Current, e.Status)
		}
	}
	if d, ok := s.Kube.Deployment("cato", "cato-orchestrator"); ok {
		fmt.Fprintf(&b, "  Deployment cato/cato-orchestrator: %d replicas, %d ready", val(d.Spec.Replicas, 1), d.Status.ReadyReplicas)
		if img := image(d); img != "" {
			fmt.Fprintf(&b, ", image %s", img)
		}
		b.WriteString("\n")
	}
	if h, ok := s.Kube.HPA("cato", "cato-orchestrator-hpa"); ok {
		fmt.Fprintf(&b, "  HPA cato/cato-orchestrator-hpa: min %d, max %d\n", val(h.Spec.MinReplicas, 1), h.Spec.MaxReplicas)
	}
	if g, ok := s.ElastiCache.Group("cato-cache-production"); ok {
		fmt.Fprintf(&b, "  ElastiCache cato-cache-production: %s, %d replicas (%s)\n", g.NodeType, g.Replicas, g.Status)
	}
	if t, ok := s.DynamoDB.Table("cato-semantic-memory-production"); ok {
		fmt.Fprintf(&b, "  DynamoDB cato-semantic-memory-production: %s, read %d, write %d (%s)\n", t.BillingMode, t.Read, t.Write, t.Status)
	}
	idx, srch := s.OpenSearch.Limits()
	fmt.Fprintf(&b, "  OpenSearch Serverless capacity limits: indexing %d OCU, search %d OCU\n", idx, srch)
	return b.String()
}
