package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/slackfake"
)

var update = flag.Bool("update", false, "rewrite golden files")

// bot is a real slack-go Web API client and socketmode client on a fake.
type bot struct {
	api *slack.Client
	sm  *socketmode.Client
	got chan socketmode.Event
}

// handler answers one envelope; nil acks it with no payload.
type handler func(sm *socketmode.Client, evt socketmode.Event)

func newFake(t testing.TB, opts slackfake.Options) *slackfake.Server {
	t.Helper()
	if opts.PingInterval == 0 {
		opts.PingInterval = 100 * time.Millisecond
	}
	if opts.DisconnectGrace == 0 {
		opts.DisconnectGrace = 200 * time.Millisecond
	}
	fake := slackfake.New(opts)
	t.Cleanup(fake.Close)
	return fake
}

func newAPI(fake *slackfake.Server) *slack.Client {
	return slack.New(fake.BotToken(),
		slack.OptionAppLevelToken(fake.AppToken()),
		slack.OptionAPIURL(fake.APIURL()))
}

func startBot(t testing.TB, fake *slackfake.Server, h handler) *bot {
	t.Helper()
	b := &bot{api: newAPI(fake), got: make(chan socketmode.Event, 100)}
	b.sm = socketmode.New(b.api)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.sm.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-b.sm.Events:
				switch evt.Type {
				case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive,
					socketmode.EventTypeEventsAPI:
				default:
					continue
				}
				if h == nil {
					_ = b.sm.Ack(*evt.Request)
				} else {
					h(b.sm, evt)
				}
				select {
				case b.got <- evt:
				default:
				}
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	require.NoError(t, fake.WaitConnections(wctx, 1))
	return b
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHelloAndSlashAck(t *testing.T) {
	tests := []struct {
		name      string
		payload   any
		wantWhere slackfake.Where
		wantText  string
	}{
		{name: "empty ack"},
		{
			name:      "ephemeral payload",
			payload:   map[string]any{"response_type": "ephemeral", "text": "Working on `status shadow`…"},
			wantWhere: slackfake.WhereEphemeral,
			wantText:  "Working on `status shadow`…",
		},
		{
			name:      "in channel payload",
			payload:   map[string]any{"response_type": "in_channel", "text": "Scaling preview"},
			wantWhere: slackfake.WhereChannel,
			wantText:  "Scaling preview",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t, slackfake.Options{})
			var got slack.SlashCommand
			b := startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
				got = evt.Data.(slack.SlashCommand)
				if tt.payload == nil {
					_ = sm.Ack(*evt.Request)
					return
				}
				_ = sm.Ack(*evt.Request, tt.payload)
			})
			_ = b

			ack, err := fake.SlashCommand(testCtx(t), slackfake.SlashArgs{
				Text: "scale ray 100", User: "U0ONCALL01", Channel: "cato-oncall",
			})
			require.NoError(t, err)
			require.Equal(t, "slash_commands", ack.Type)
			require.Equal(t, 1, ack.Seq)
			require.Equal(t, 0, ack.Attempt)
			require.Equal(t, "/cato", got.Command)
			require.Equal(t, "scale ray 100", got.Text)
			require.Equal(t, "U0ONCALL01", got.UserID)
			require.Equal(t, "sam.oncall", got.UserName)
			require.Equal(t, "C0CATOONC1", got.ChannelID)
			require.True(t, strings.HasPrefix(got.ResponseURL, fake.URL()+"/commands/"))
			require.Len(t, fake.Acks(), 1)

			if tt.payload == nil {
				require.Nil(t, ack.Payload)
				require.Empty(t, fake.Messages())
				return
			}
			require.JSONEq(t, mustJSON(t, tt.payload), string(ack.Payload))
			m, err := fake.WaitText(testCtx(t), tt.wantWhere, tt.wantText)
			require.NoError(t, err)
			if tt.wantWhere == slackfake.WhereEphemeral {
				require.Equal(t, "U0ONCALL01", m.Recipient)
			}
		})
	}
}

func TestClickPostedButton(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	clicks := make(chan slack.InteractionCallback, 1)
	b := startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			clicks <- cb
		}
		_ = sm.Ack(*evt.Request)
	})
	ctx := testCtx(t)

	card, err := os.ReadFile("testdata/card_blocks.json")
	require.NoError(t, err)
	var blocks slack.Blocks
	require.NoError(t, json.Unmarshal(card, &blocks))
	_, cardTS, err := b.api.PostMessageContext(ctx, "cato-oncall",
		slack.MsgOptionText("GPU hot on Shadow Self", false), slack.MsgOptionBlocks(blocks.BlockSet...))
	require.NoError(t, err)
	// An older message with the same label must not be the one clicked.
	_, replyTS, err := b.api.PostMessageContext(ctx, "C0CATOONC1", slack.MsgOptionTS(cardTS),
		slack.MsgOptionText("preview", false), slack.MsgOptionBlocks(
			slack.NewActionBlock("preview_actions",
				slack.NewButtonBlockElement("k8s_scale_confirm", `{"id":"op-1"}`,
					slack.NewTextBlockObject(slack.PlainTextType, "Scale", false, false)).
					WithStyle(slack.StyleDanger))))
	require.NoError(t, err)

	ack, err := fake.Click(ctx, slackfake.ClickArgs{User: "U0ALEX0001", Label: "Scale"})
	require.NoError(t, err)
	require.Equal(t, "interactive", ack.Type)

	cb := <-clicks
	require.Equal(t, slack.InteractionTypeBlockActions, cb.Type)
	require.Equal(t, "U0ALEX0001", cb.User.ID)
	require.Equal(t, "alex.rivera", cb.User.Name)
	require.Equal(t, "C0CATOONC1", cb.Channel.ID)
	require.Equal(t, replyTS, cb.Container.MessageTs)
	require.Equal(t, cardTS, cb.Container.ThreadTs)
	require.Equal(t, replyTS, cb.Message.Timestamp)
	require.NotEmpty(t, cb.TriggerID)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	act := cb.ActionCallback.BlockActions[0]
	require.Equal(t, "k8s_scale_confirm", act.ActionID)
	require.Equal(t, "preview_actions", act.BlockID)
	require.Equal(t, `{"id":"op-1"}`, act.Value)
	require.Equal(t, "Scale", act.Text.Text)

	// The response_url replaces the clicked message.
	_, _, err = b.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL),
		slack.MsgOptionText("Scaling started by alex.rivera", false))
	require.NoError(t, err)
	require.Equal(t, "Scaling started by alex.rivera", fake.Thread(cardTS)[0].Text)
	require.Empty(t, fake.Thread(cardTS)[0].Buttons())

	_, err = fake.Click(ctx, slackfake.ClickArgs{User: "U0ALEX0001", Label: "Nope"})
	require.ErrorContains(t, err, "no message has that button")
}

func TestDisconnectRefreshRedelivers(t *testing.T) {
	for _, reason := range []string{slackfake.ReasonRefreshRequested, slackfake.ReasonWarning} {
		t.Run(reason, func(t *testing.T) {
			fake := newFake(t, slackfake.Options{})
			first := make(chan struct{}, 1)
			startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
				if evt.Request.RetryAttempt == 0 {
					first <- struct{}{} // hold the first delivery's ack
					return
				}
				_ = sm.Ack(*evt.Request)
			})
			ctx := testCtx(t)

			type result struct {
				ack slackfake.Ack
				err error
			}
			done := make(chan result, 1)
			go func() {
				ack, err := fake.SlashCommand(ctx, slackfake.SlashArgs{Text: "status", User: "U0ONCALL01"})
				done <- result{ack, err}
			}()
			<-first
			require.NoError(t, fake.Disconnect(reason))
			res := <-done
			require.NoError(t, res.err)
			require.Equal(t, 1, res.ack.Attempt)
			require.Equal(t, 2, res.ack.Conn)

			_, total := fake.Connections()
			require.Equal(t, 2, total)
			require.Equal(t, 2, fake.CallCount("apps.connections.open"))
			d := fake.Deliveries()
			require.Len(t, d, 2)
			require.Equal(t, d[0].EnvelopeID, d[1].EnvelopeID)
			require.Equal(t, slackfake.RetryReasonTimeout, d[1].Reason)
			require.NotEqual(t, d[0].Conn, d[1].Conn)
			require.Empty(t, fake.Unacked())
		})
	}
}

func TestDropAfterSendRedelivers(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	var mu sync.Mutex
	var attempts []int
	startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		mu.Lock()
		attempts = append(attempts, evt.Request.RetryAttempt)
		mu.Unlock()
		_ = sm.Ack(*evt.Request)
	})

	fake.DropNextAfterSend()
	ack, err := fake.SlashCommand(testCtx(t), slackfake.SlashArgs{Text: "status", User: "U0ONCALL01"})
	require.NoError(t, err)
	// The ack comes on the second connection: either slack-go carried its
	// unsent ack over, or it answered the redelivered copy.
	require.Equal(t, 2, ack.Conn)
	for _, a := range fake.Acks() {
		require.Equal(t, 2, a.Conn, "the first connection's ack must be lost")
	}
	d := fake.Deliveries()
	require.Equal(t, 1, d[0].Conn)
	if len(d) == 2 {
		require.Equal(t, 1, d[1].Attempt)
		require.Equal(t, 2, d[1].Conn)
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Contains(attempts, 1)
		}, 10*time.Second, time.Millisecond)
	}
}

func TestLinkDisabledFrame(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	startBot(t, fake, nil)
	require.NoError(t, fake.Disconnect(slackfake.ReasonLinkDisabled))
	// slack-go reconnects by itself; what matters here is that the frame parses.
	require.NoError(t, fake.WaitConnections(testCtx(t), 2))
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1773454800, 0)}
	fake := newFake(t, slackfake.Options{Now: clock.Now})
	fake.SetRateLimit(slackfake.RateLimit{Messages: 1, Window: time.Second, RetryAfter: 7 * time.Second})
	api := newAPI(fake)
	ctx := testCtx(t)

	_, _, err := api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("one", false))
	require.NoError(t, err)
	_, _, err = api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("two", false))
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, 7*time.Second, rl.RetryAfter)
	require.Equal(t, 1, fake.RateLimited())

	clock.Add(3 * time.Second) // still inside Retry-After
	_, _, err = api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("two", false))
	require.ErrorAs(t, err, &rl)
	require.Equal(t, 2, fake.RateLimited())

	clock.Add(5 * time.Second)
	_, _, err = api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("two", false))
	require.NoError(t, err)
	require.Len(t, fake.Messages(), 2)

	calls := fake.Calls()
	require.Equal(t, 429, calls[1].Status)
	require.Equal(t, "ratelimited", calls[1].Error)
}

func TestResponseURLLimits(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1773454800, 0)}
	fake := newFake(t, slackfake.Options{Now: clock.Now})
	urls := make(chan string, 2)
	b := startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		urls <- evt.Data.(slack.SlashCommand).ResponseURL
		_ = sm.Ack(*evt.Request)
	})
	ctx := testCtx(t)

	tests := []struct {
		name    string
		advance time.Duration
		uses    int
		wantErr string
	}{
		{name: "sixth use refused", uses: 6, wantErr: "used_url"},
		{name: "expired after 30 minutes", advance: 31 * time.Minute, uses: 1, wantErr: "expired_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fake.SlashCommand(ctx, slackfake.SlashArgs{Text: "status", User: "U0ALEX0001"})
			require.NoError(t, err)
			u := <-urls
			clock.Add(tt.advance)
			var last error
			for i := range tt.uses {
				_, _, last = b.api.PostMessageContext(ctx, "",
					slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral),
					slack.MsgOptionText("update "+string(rune('1'+i)), false))
				if i < tt.uses-1 {
					require.NoError(t, last)
				}
			}
			var sc slack.StatusCodeError
			require.ErrorAs(t, last, &sc)
			require.Equal(t, 404, sc.Code)
			calls := fake.Calls()
			require.Equal(t, tt.wantErr, calls[len(calls)-1].Error)
		})
	}
	require.Len(t, fake.Ephemerals("U0ALEX0001"), 5)
}

func TestWebAPI(t *testing.T) {
	fake := newFake(t, slackfake.Options{UserGroups: map[string][]string{
		"S0ONCALLSRE": {"U0ONCALL01", "U0ALEX0001"},
	}})
	api := newAPI(fake)
	ctx := testCtx(t)

	t.Run("auth", func(t *testing.T) {
		tests := []struct {
			name  string
			token string
			want  string
		}{
			{name: "wrong bot token", token: "xoxb-wrong", want: "invalid_auth"},
			{name: "app token on web api", token: fake.AppToken(), want: "not_allowed_token_type"},
			{name: "no token", token: "", want: "not_authed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := slack.New(tt.token, slack.OptionAPIURL(fake.APIURL())).AuthTestContext(ctx)
				require.EqualError(t, err, tt.want)
			})
		}
		resp, err := api.AuthTestContext(ctx)
		require.NoError(t, err)
		require.Equal(t, "U0CATOBOT1", resp.UserID)
		require.Equal(t, "B0CATOBOT1", resp.BotID)

		_, _, err = slack.New(fake.BotToken(), slack.OptionAppLevelToken("xapp-wrong"),
			slack.OptionAPIURL(fake.APIURL())).StartSocketModeContext(ctx)
		require.EqualError(t, err, "invalid_auth")
		_, u1, err := api.StartSocketModeContext(ctx)
		require.NoError(t, err)
		_, u2, err := api.StartSocketModeContext(ctx)
		require.NoError(t, err)
		require.NotEqual(t, u1, u2)
		require.True(t, strings.HasPrefix(u1, "ws://127.0.0.1:"))
	})

	t.Run("users", func(t *testing.T) {
		u, err := api.GetUserInfoContext(ctx, "U0ONCALL01")
		require.NoError(t, err)
		require.Equal(t, "sam.oncall@example.com", u.Profile.Email)
		u, err = api.GetUserInfoContext(ctx, "U0NOMAIL01")
		require.NoError(t, err)
		require.Empty(t, u.Profile.Email)
		_, err = api.GetUserInfoContext(ctx, "U0NOBODY01")
		require.EqualError(t, err, "user_not_found")

		members, err := api.GetUserGroupMembersContext(ctx, "S0ONCALLSRE")
		require.NoError(t, err)
		require.Equal(t, []string{"U0ONCALL01", "U0ALEX0001"}, members)
		_, err = api.GetUserGroupMembersContext(ctx, "S0NONE")
		require.EqualError(t, err, "no_such_subteam")

		ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C0CATOONC1"})
		require.NoError(t, err)
		require.Equal(t, "cato-oncall", ch.Name)
	})

	t.Run("messages", func(t *testing.T) {
		chID, ts, err := api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("card", false))
		require.NoError(t, err)
		require.Equal(t, "C0CATOONC1", chID)
		_, replyTS, err := api.PostMessageContext(ctx, chID, slack.MsgOptionTS(ts), slack.MsgOptionText("reply", false))
		require.NoError(t, err)
		_, _, _, err = api.UpdateMessageContext(ctx, chID, ts, slack.MsgOptionText("card v2", false))
		require.NoError(t, err)
		_, err = api.PostEphemeralContext(ctx, chID, "U0ALEX0001", slack.MsgOptionText("just you", false))
		require.NoError(t, err)

		msgs := fake.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, "card v2", msgs[0].Text)
		require.Equal(t, 1, msgs[0].Updates)
		require.Equal(t, replyTS, fake.Thread(ts)[0].TS)
		require.Equal(t, "just you", fake.Ephemerals("U0ALEX0001")[0].Text)
	})

	t.Run("errors", func(t *testing.T) {
		tooMany := make([]slack.Block, 51)
		for i := range tooMany {
			tooMany[i] = slack.NewDividerBlock()
		}
		tests := []struct {
			name string
			call func() error
			want string
		}{
			{name: "unknown channel", want: "channel_not_found", call: func() error {
				_, _, err := api.PostMessageContext(ctx, "nope", slack.MsgOptionText("x", false))
				return err
			}},
			{name: "no text", want: "no_text", call: func() error {
				_, _, err := api.PostMessageContext(ctx, "C0CATOONC1")
				return err
			}},
			{name: "too many blocks", want: "invalid_blocks", call: func() error {
				_, _, err := api.PostMessageContext(ctx, "C0CATOONC1", slack.MsgOptionBlocks(tooMany...))
				return err
			}},
			{name: "unknown thread", want: "thread_not_found", call: func() error {
				_, _, err := api.PostMessageContext(ctx, "C0CATOONC1", slack.MsgOptionTS("1.000001"),
					slack.MsgOptionText("x", false))
				return err
			}},
			{name: "update unknown message", want: "message_not_found", call: func() error {
				_, _, _, err := api.UpdateMessageContext(ctx, "C0CATOONC1", "1.000001", slack.MsgOptionText("x", false))
				return err
			}},
			{name: "injected", want: "fatal_error", call: func() error {
				fake.FailNext("chat.postMessage", slackfake.Failure{Error: "fatal_error"})
				_, _, err := api.PostMessageContext(ctx, "C0CATOONC1", slack.MsgOptionText("x", false))
				return err
			}},
			{name: "missing scope", want: "missing_scope", call: func() error {
				fake.SetScopes("chat:write")
				defer fake.SetScopes(slackfake.DefaultScopes...)
				_, err := api.GetUserInfoContext(ctx, "U0ONCALL01")
				return err
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.EqualError(t, tt.call(), tt.want)
			})
		}
	})
}

func TestEvents(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	b := startBot(t, fake, nil)
	ctx := testCtx(t)

	ack, err := fake.Event(ctx, slackfake.EventArgs{
		Type: slackfake.EventAppMention, User: "U0ALEX0001", Text: "<@U0CATOBOT1> scale ray 100",
		TS: "1773454800.000300",
	})
	require.NoError(t, err)
	require.Equal(t, "events_api", ack.Type)
	evt := <-b.got
	require.Equal(t, socketmode.EventTypeEventsAPI, evt.Type)

	_, err = fake.Event(ctx, slackfake.EventArgs{
		Type: slackfake.EventMessageChanged, User: "U0ALEX0001", Text: "<@U0CATOBOT1> scale ray 10",
		TS: "1773454800.000300",
	})
	require.NoError(t, err)
	evt = <-b.got
	require.Equal(t, socketmode.EventTypeEventsAPI, evt.Type)
	msgs := fake.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].Edited)
	require.Equal(t, "@cato scale ray 10 (edited)", msgs[0].Rendered)
}

// TestSharedCaseEnvelopes sends the shared recorded frames as they are.
func TestSharedCaseEnvelopes(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/cases/payloads/slack/socket/*_*_*.json")
	if len(files) == 0 {
		t.Skip("shared cases not found beside the repository")
	}
	fake := newFake(t, slackfake.Options{})
	var mu sync.Mutex
	var urls []string
	startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		mu.Lock()
		switch d := evt.Data.(type) {
		case slack.SlashCommand:
			urls = append(urls, d.ResponseURL)
		case slack.InteractionCallback:
			urls = append(urls, d.ResponseURL)
		}
		mu.Unlock()
		_ = sm.Ack(*evt.Request)
	})
	sent := 0
	for _, f := range files {
		if strings.Contains(f, "ack_") || strings.Contains(f, "disconnect_") {
			continue
		}
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		ack, err := fake.SendRaw(testCtx(t), raw)
		require.NoError(t, err, filepath.Base(f))
		require.NotEmpty(t, ack.Type)
		sent++
	}
	require.Equal(t, sent, len(fake.Acks()))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, urls)
	for _, u := range urls {
		require.True(t, strings.HasPrefix(u, fake.URL()), "response_url must point at the fake: %s", u)
	}
}

func TestRenderGolden(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	api := newAPI(fake)
	ctx := testCtx(t)

	card, err := os.ReadFile("testdata/card_blocks.json")
	require.NoError(t, err)
	var blocks slack.Blocks
	require.NoError(t, json.Unmarshal(card, &blocks))
	_, ts, err := api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("GPU hot", false),
		slack.MsgOptionBlocks(blocks.BlockSet...))
	require.NoError(t, err)
	_, _, err = api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionTS(ts), slack.MsgOptionBlocks(
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
			":white_check_mark: Acknowledged by <@U0ALEX0001> at 02:19 UTC", false, false))))
	require.NoError(t, err)
	_, _, err = api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionTS(ts),
		slack.MsgOptionText("Shadow Self: 5 → 15 instances &amp; InService", false))
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, "cato-oncall", "U0ALEX0001",
		slack.MsgOptionText("Unknown component `foo`. Usage: /cato scale ray|shadow N", false))
	require.NoError(t, err)

	var buf bytes.Buffer
	require.NoError(t, fake.Render(&buf))
	golden := filepath.Join("testdata", t.Name()+".golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), buf.String())
}

// TestNoTokenLeak drives every path that sees a token and checks that no
// token reaches the logs, the recorded calls or an error.
func TestNoTokenLeak(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake := newFake(t, slackfake.Options{Logger: logger})
	b := startBot(t, fake, nil)
	ctx := testCtx(t)

	_, _, err := b.api.PostMessageContext(ctx, "cato-oncall", slack.MsgOptionText("hi", false))
	require.NoError(t, err)
	_, err = fake.SlashCommand(ctx, slackfake.SlashArgs{Text: "status", User: "U0ONCALL01"})
	require.NoError(t, err)
	wrong := "xoxb-should-never-show-up"
	_, err = slack.New(wrong, slack.OptionAPIURL(fake.APIURL())).AuthTestContext(ctx)
	require.Error(t, err)

	var record strings.Builder
	record.WriteString(logs.String())
	record.WriteString(err.Error())
	for _, c := range fake.Calls() {
		record.WriteString(mustJSON(t, c))
	}
	require.NotEmpty(t, logs.String())
	for _, tok := range []string{fake.BotToken(), fake.AppToken(), wrong} {
		require.NotContains(t, record.String(), tok)
	}
	require.NotContains(t, fake.Calls()[0].Params, "token")
}

func TestCloseUnblocksWaiters(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	done := make(chan error, 1)
	go func() {
		_, err := fake.SlashCommand(context.Background(), slackfake.SlashArgs{Text: "x", User: "U0ONCALL01"})
		done <- err
	}()
	require.Eventually(t, func() bool { return len(fake.Unacked()) == 1 }, 5*time.Second, time.Millisecond)
	fake.Close()
	require.True(t, errors.Is(<-done, slackfake.ErrClosed))
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSharedCaseWebRequests posts the shared recorded Web API and
// response_url bodies as JSON, the way a hand-written client would.
func TestSharedCaseWebRequests(t *testing.T) {
	dir := "../../../shared/cases/payloads/slack"
	click, err := os.ReadFile(filepath.Join(dir, "socket/interactive_block_actions_pd_ack.json"))
	if err != nil {
		t.Skip("shared cases not found beside the repository")
	}
	var env struct {
		Payload struct {
			Message struct {
				TS     string          `json:"ts"`
				Text   string          `json:"text"`
				Blocks json.RawMessage `json:"blocks"`
			} `json:"message"`
		} `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(click, &env))
	fake := newFake(t, slackfake.Options{})
	card := fake.AddMessage(slackfake.Message{
		TS: env.Payload.Message.TS, User: fake.BotUserID(), BotID: "B0CATOBOT1",
		Text: env.Payload.Message.Text, Blocks: env.Payload.Message.Blocks,
	})
	urls := make(chan string, 1)
	startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		urls <- evt.Data.(slack.InteractionCallback).ResponseURL
		_ = sm.Ack(*evt.Request)
	})
	_, err = fake.Click(testCtx(t), slackfake.ClickArgs{User: "U0ALEX0001", Label: "Acknowledge"})
	require.NoError(t, err)
	responseURL := <-urls

	tests := []struct {
		name string
		file string
		url  string
	}{
		{name: "thread reply", file: "web/chat.postMessage_thread_reply.request.json", url: fake.APIURL() + "chat.postMessage"},
		{name: "card update", file: "web/chat.update_incident_card.request.json", url: fake.APIURL() + "chat.update"},
		{name: "response url", file: "web/response_url_replace_original.request.json", url: responseURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, tt.file))
			require.NoError(t, err)
			var req struct {
				Body json.RawMessage `json:"body"`
			}
			require.NoError(t, json.Unmarshal(raw, &req))
			hr, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, tt.url, bytes.NewReader(req.Body))
			require.NoError(t, err)
			hr.Header.Set("Content-Type", "application/json; charset=utf-8")
			hr.Header.Set("Authorization", "Bearer "+fake.BotToken())
			resp, err := http.DefaultClient.Do(hr)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			require.True(t, out.OK, out.Error)
		})
	}
	sn := fake.Snapshot()
	require.Len(t, sn.Messages, 1)
	require.Equal(t, "Acknowledged by Alex Rivera", sn.Messages[0].Text)
	require.Empty(t, sn.Messages[0].Blocks)
	require.Equal(t, 2, sn.Messages[0].Updates)
	require.Contains(t, sn.Thread(card.TS)[0].Rendered, "Acknowledged by @alex.rivera at 02:19 UTC")
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAckTimeoutRedelivers(t *testing.T) {
	fake := newFake(t, slackfake.Options{AckTimeout: 50 * time.Millisecond})
	startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		if evt.Request.RetryAttempt > 0 {
			_ = sm.Ack(*evt.Request)
		}
	})
	ack, err := fake.Event(testCtx(t), slackfake.EventArgs{User: "U0ALEX0001", Text: "hello"})
	require.NoError(t, err)
	require.Equal(t, 1, ack.Attempt)
	require.Equal(t, 1, ack.Conn)
	d := fake.Deliveries()
	require.Len(t, d, 2)
	require.Equal(t, slackfake.RetryReasonTimeout, d[1].Reason)
}

func TestClickEphemeralButton(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	urls := make(chan slack.InteractionCallback, 1)
	b := startBot(t, fake, func(sm *socketmode.Client, evt socketmode.Event) {
		urls <- evt.Data.(slack.InteractionCallback)
		_ = sm.Ack(*evt.Request)
	})
	ctx := testCtx(t)
	_, err := b.api.PostEphemeralContext(ctx, "cato-oncall", "U0ALEX0001", slack.MsgOptionBlocks(
		slack.NewActionBlock("confirm",
			slack.NewButtonBlockElement("scale_confirm", "op-7",
				slack.NewTextBlockObject(slack.PlainTextType, "Confirm", false, false)))))
	require.NoError(t, err)

	_, err = fake.Click(ctx, slackfake.ClickArgs{User: "U0ONCALL01", Label: "Confirm"})
	require.ErrorContains(t, err, "no message has that button", "others do not see an ephemeral message")
	_, err = fake.Click(ctx, slackfake.ClickArgs{User: "U0ALEX0001", Label: "Confirm"})
	require.NoError(t, err)
	cb := <-urls
	require.True(t, cb.Container.IsEphemeral)

	_, _, err = b.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL),
		slack.MsgOptionText("Confirmed", false))
	require.NoError(t, err)
	eph := fake.Ephemerals("U0ALEX0001")
	require.Len(t, eph, 1)
	require.Equal(t, "Confirmed", eph[0].Rendered)
}
