package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/internal/strictyaml"
)

// DefaultTimeout is how long an expect or state step waits by default.
const DefaultTimeout = 10 * time.Second

//go:embed scenarios
var builtin embed.FS

// BuiltinScenario is the scenario `catobot demo` plays with no --scenario.
const BuiltinScenario = "scenarios/gpu-hot.yaml"

// Scenario is a runbook flow to rehearse: the systems at the start, then
// steps that act and expect.
type Scenario struct {
	Name  string `yaml:"name"`
	State State  `yaml:"state"`
	Steps []Step `yaml:"steps"`

	// read reads a path given in the scenario, relative to it.
	read func(name string) ([]byte, error)
}

// Step is one scenario step; exactly one of its fields is set.
type Step struct {
	Webhook *WebhookStep `yaml:"webhook,omitempty"`
	Slash   *SlashStep   `yaml:"slash,omitempty"`
	Click   *ClickStep   `yaml:"click,omitempty"`
	Expect  *ExpectStep  `yaml:"expect,omitempty"`
	State   *State       `yaml:"state,omitempty"`
	// Timeout bounds an expect or state step; default DefaultTimeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// WebhookStep delivers a PagerDuty webhook, signed with the sandbox's
// secret. Alerts is what GET /incidents/{id}/alerts answers.
type WebhookStep struct {
	Body   string `yaml:"body"`
	Alerts string `yaml:"alerts,omitempty"`
	// Unsigned sends the body without a valid signature.
	Unsigned bool `yaml:"unsigned,omitempty"`
	// Status is the HTTP status expected; default any 2xx.
	Status int `yaml:"status,omitempty"`
}

// SlashStep types a /cato command.
type SlashStep struct {
	Text    string `yaml:"text"`
	User    string `yaml:"user"`
	Channel string `yaml:"channel,omitempty"`
}

// ClickStep clicks a button by its label, on the newest message with it.
type ClickStep struct {
	Button string `yaml:"button"`
	User   string `yaml:"user"`
}

// ExpectStep waits for text to appear.
type ExpectStep struct {
	Channel   string        `yaml:"channel,omitempty"`
	Thread    string        `yaml:"thread,omitempty"`
	Ephemeral string        `yaml:"ephemeral,omitempty"`
	Timeout   time.Duration `yaml:"timeout,omitempty"`
}

// LoadScenario reads a scenario file; paths in it are relative to it. An
// empty path loads the built-in scenario.
func LoadScenario(path string) (*Scenario, error) {
	var (
		raw  []byte
		read func(string) ([]byte, error)
		err  error
	)
	if path == "" {
		files, _ := fs.Sub(builtin, "scenarios")
		read = func(name string) ([]byte, error) { return fs.ReadFile(files, name) }
		raw, err = fs.ReadFile(builtin, BuiltinScenario)
	} else {
		dir := filepath.Dir(path)
		read = func(name string) ([]byte, error) {
			if !filepath.IsAbs(name) {
				name = filepath.Join(dir, name)
			}
			return os.ReadFile(name)
		}
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := ParseScenario(raw, read)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes a scenario strictly and checks each step; read
// reads the files its steps name.
func ParseScenario(raw []byte, read func(name string) ([]byte, error)) (*Scenario, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("the scenario is empty: it needs a name, a state and steps")
	}
	var sc Scenario
	if err := strictyaml.Decode(raw, &sc); err != nil {
		return nil, strictyaml.Friendly(err)
	}
	sc.read = read
	for i, st := range sc.Steps {
		n := 0
		for _, set := range []bool{st.Webhook != nil, st.Slash != nil, st.Click != nil, st.Expect != nil, st.State != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("steps[%d]: want exactly one of webhook, slash, click, expect, state", i)
		}
		switch {
		case st.Webhook != nil && st.Webhook.Body == "":
			return nil, fmt.Errorf("steps[%d].webhook.body: must name a file", i)
		case st.Slash != nil && (st.Slash.Text == "" || st.Slash.User == ""):
			return nil, fmt.Errorf("steps[%d].slash: needs text and user", i)
		case st.Click != nil && (st.Click.Button == "" || st.Click.User == ""):
			return nil, fmt.Errorf("steps[%d].click: needs button and user", i)
		case st.Expect != nil && st.Expect.Channel == "" && st.Expect.Thread == "" && st.Expect.Ephemeral == "":
			return nil, fmt.Errorf("steps[%d].expect: needs channel, thread or ephemeral text", i)
		}
	}
	return &sc, nil
}

// Player plays scenario steps against a running bot.
type Player struct {
	Sandbox *Sandbox
	// WebhookURL is the bot's /webhooks/pagerduty.
	WebhookURL string
	// Out receives one line per step; nil discards.
	Out io.Writer
}

// Play runs every step in order and returns the first failure.
func (p *Player) Play(ctx context.Context, sc *Scenario) error {
	out := p.Out
	if out == nil {
		out = io.Discard
	}
	for i, st := range sc.Steps {
		desc, err := p.step(ctx, sc, st)
		if err != nil {
			fmt.Fprintf(out, "  ✗ %d. %s\n", i+1, desc)
			return fmt.Errorf("step %d (%s): %w", i+1, desc, err)
		}
		fmt.Fprintf(out, "  ✓ %d. %s\n", i+1, desc)
	}
	return nil
}

func (p *Player) step(ctx context.Context, sc *Scenario, st Step) (string, error) {
	sb := p.Sandbox
	timeout := st.Timeout
	if st.Expect != nil && st.Expect.Timeout > 0 {
		timeout = st.Expect.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch {
	case st.Webhook != nil:
		desc := "webhook " + st.Webhook.Body
		return desc, p.webhook(ctx, sc, *st.Webhook)
	case st.Slash != nil:
		desc := fmt.Sprintf("%s types /cato %s", st.Slash.User, st.Slash.Text)
		_, err := sb.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: st.Slash.Text, User: st.Slash.User, Channel: st.Slash.Channel})
		return desc, err
	case st.Click != nil:
		desc := fmt.Sprintf("%s clicks [%s]", st.Click.User, st.Click.Button)
		// The button may still be on its way, as it would be for a person.
		deadline := time.Now().Add(timeout)
		for {
			_, err := sb.Slack.Click(ctx, slackfake.ClickArgs{User: st.Click.User, Label: st.Click.Button})
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				return desc, err
			}
			time.Sleep(50 * time.Millisecond)
		}
	case st.Expect != nil:
		where, text := slackfake.WhereChannel, st.Expect.Channel
		switch {
		case st.Expect.Thread != "":
			where, text = slackfake.WhereThread, st.Expect.Thread
		case st.Expect.Ephemeral != "":
			where, text = slackfake.WhereEphemeral, st.Expect.Ephemeral
		}
		desc := fmt.Sprintf("expect %s to show %q", where, text)
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := sb.Slack.WaitText(wctx, where, text)
		if err != nil {
			return desc, fmt.Errorf("not seen within %s", timeout)
		}
		return desc, nil
	case st.State != nil:
		desc := "expect the systems to read as given"
		deadline := time.Now().Add(timeout)
		for {
			diff := sb.Check(*st.State)
			if diff == "" {
				return desc, nil
			}
			if time.Now().After(deadline) {
				return desc, errors.New(diff)
			}
			select {
			case <-ctx.Done():
				return desc, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return "empty step", errors.New("step has nothing to do")
}

// webhook delivers a signed PagerDuty webhook to the bot.
func (p *Player) webhook(ctx context.Context, sc *Scenario, w WebhookStep) error {
	body, err := sc.read(w.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := p.Sandbox.seedIncident(body); err != nil {
		return err
	}
	if w.Alerts != "" {
		alerts, err := sc.read(w.Alerts)
		if err != nil {
			return fmt.Errorf("read alerts: %w", err)
		}
		if err := p.Sandbox.PagerDuty.SeedAlerts(alerts); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Id", fmt.Sprintf("sandbox-%d", time.Now().UnixNano()))
	sig := Sign(body, webhookSecret)
	if w.Unsigned {
		sig = "v1=" + hex.EncodeToString(make([]byte, sha256.Size))
	}
	req.Header.Set("X-PagerDuty-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	_ = resp.Body.Close()
	switch {
	case w.Status != 0 && resp.StatusCode != w.Status:
		return fmt.Errorf("bot answered %d, want %d", resp.StatusCode, w.Status)
	case w.Status == 0 && resp.StatusCode/100 != 2:
		return fmt.Errorf("bot answered %d", resp.StatusCode)
	}
	return nil
}

// Sign returns the X-PagerDuty-Signature value of body under secret.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}
