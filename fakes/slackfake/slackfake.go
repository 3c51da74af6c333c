// Package slackfake is a fake Slack workspace on loopback that speaks Slack's
// real wire protocols: the Web API over HTTP and Socket Mode over a websocket.
// The real slack-go client and its socketmode package talk to it unchanged:
//
//	fake := slackfake.New(slackfake.Options{})
//	defer fake.Close()
//	api := slack.New(fake.BotToken(),
//		slack.OptionAppLevelToken(fake.AppToken()),
//		slack.OptionAPIURL(fake.APIURL()))
//	client := socketmode.New(api)
//
// Web API: apps.connections.open (app token; each call hands out a fresh
// ws://127.0.0.1:PORT/link/?ticket=... URL), auth.test, chat.postMessage,
// chat.update, chat.delete, chat.postEphemeral, users.info,
// usergroups.users.list and conversations.info, with form or JSON bodies, the
// bot token checked on each call, and answers shaped like Slack's
// ({"ok":true,...} or {"ok":false,"error":"..."}). Channels may be named by ID
// or by name ("cato-oncall" is C0CATOONC1). Every call is recorded without its
// token (Calls), errors can be injected (FailNext), scopes can be withheld
// (Options.Scopes), and chat.postMessage can be rate limited per channel
// (SetRateLimit), answering HTTP 429 with Retry-After.
//
// Socket Mode: a connection gets a hello frame and a websocket ping every
// Options.PingInterval. SlashCommand, Click, Event, SendRaw and Send send
// envelopes and wait for their acks (until the context ends); every ack is
// recorded in arrival order (Acks), every write in Deliveries. A slash
// command's ack payload is shown as Slack shows it (ephemeral, or in the
// channel for response_type "in_channel").
// Envelopes not acked when their connection drops are sent again on the next
// connection with retry_attempt incremented and retry_reason "timeout", as
// Slack does. Disconnect sends Slack's disconnect frames, DropConnections cuts
// connections without a word, and DropNextAfterSend loses the connection right
// after the next envelope is written, before its ack can arrive.
//
// Interactions carry a response_url on this server; it accepts Slack's
// response payloads (replace_original, delete_original, response_type) and,
// like Slack, at most 5 uses within 30 minutes, answering 404 with
// "used_url" or "expired_url" after that.
//
// Transcript: the channels as a person reads them, with threads, updates
// applied and ephemeral messages per user (Snapshot, Messages, Thread,
// Ephemerals, WaitFor, WaitText), and Render prints them as stable text for
// golden tests and the sandbox. AddMessage seeds a message, such as a card
// from a recorded payload.
//
// The fake never logs or records the tokens it receives.
package slackfake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/thinktank/catobot/secret"
)

// Defaults for the workspace the fake plays; they match the shared test payloads.
const (
	DefaultBotToken    secret.String = "xoxb-0000000000-0000000000000-fakebottoken0000"
	DefaultAppToken    secret.String = "xapp-1-A0CATOAPP1-0000000000000-fakeapptoken0000"
	DefaultTeamID                    = "T0CATO0001"
	DefaultTeamDomain                = "example-eng"
	DefaultAppID                     = "A0CATOAPP1"
	DefaultBotUserID                 = "U0CATOBOT1"
	DefaultBotID                     = "B0CATOBOT1"
	DefaultBotName                   = "cato"
	DefaultChannelID                 = "C0CATOONC1"
	DefaultChannelName               = "cato-oncall"
)

// Slack's response_url limits: "You can use a response_url five times within
// 30 minutes", https://api.slack.com/interactivity/handling#message_responses.
const (
	ResponseURLMaxUses = 5
	ResponseURLTTL     = 30 * time.Minute
)

// RetryReasonTimeout is the retry_reason of an envelope sent again because
// it was not acked (its connection dropped or the ack timed out).
const RetryReasonTimeout = "timeout"

// maxRetries is how often Slack sends an envelope again before giving up.
const maxRetries = 3

// ErrClosed is returned by calls waiting on a server that was closed.
var ErrClosed = errors.New("slackfake: server closed")

// DefaultScopes are the bot scopes of the app manifest.
var DefaultScopes = []string{
	"commands", "chat:write", "app_mentions:read", "channels:history", "groups:history",
	"users:read", "users:read.email", "usergroups:read", "reactions:write",
}

// User is a workspace member the fake knows.
type User struct {
	ID       string
	Name     string // handle, e.g. "alex.rivera"
	RealName string
	Email    string // empty: users.info shows no email
	IsBot    bool
	Deleted  bool
}

// Channel is a conversation the fake knows.
type Channel struct {
	ID        string
	Name      string
	IsPrivate bool
}

// DefaultUsers are the people of the shared test payloads.
var DefaultUsers = []User{
	{ID: "U0ONCALL01", Name: "sam.oncall", RealName: "Sam Oncall", Email: "sam.oncall@example.com"},
	{ID: "U0ALEX0001", Name: "alex.rivera", RealName: "Alex Rivera", Email: "alex.rivera@example.com"},
	{ID: "U0NOMAIL01", Name: "nomail", RealName: "No Mail"},
}

// Options configures a Server. Zero fields take the defaults above.
type Options struct {
	BotToken secret.String // xoxb- token the Web API accepts
	AppToken secret.String // xapp- token apps.connections.open accepts

	TeamID     string
	TeamDomain string
	AppID      string
	BotUserID  string
	BotID      string
	BotName    string

	Channels   []Channel           // nil: #cato-oncall only
	Users      []User              // nil: DefaultUsers
	UserGroups map[string][]string // usergroup ID → member user IDs
	Scopes     []string            // bot token scopes; nil: DefaultScopes

	// PingInterval is how often a connection gets a websocket ping; slack-go
	// reconnects when none comes for 30 s. Default 5 s.
	PingInterval time.Duration
	// AckTimeout, when set, sends an unacked envelope again after this long
	// (up to 3 retries), as Slack does after 3 s. Default off.
	AckTimeout time.Duration
	// DisconnectGrace is how long a connection stays open after a disconnect
	// frame before the fake closes it. Default 1 s.
	DisconnectGrace time.Duration

	// Now is the clock for rate limits and response_url expiry. Default time.Now.
	Now func() time.Time
	// OnAck, when set, is called for every ack as it arrives (before waiters
	// return), so tests can order it against other systems' calls.
	OnAck func(Ack)
	// OnCall, when set, is called for every Web API and response_url call.
	OnCall func(Call)
	// Logger receives debug logs; never tokens nor payloads. Default discards.
	Logger *slog.Logger
}

// Server is a running fake Slack. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	hs       *httptest.Server
	upgrader websocket.Upgrader

	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	changed  chan struct{}
	tsMicros int64
	seq      int

	channels   map[string]Channel
	users      map[string]User
	groups     map[string][]string
	scopes     map[string]bool
	messages   []*Message
	ephemerals []*Message

	calls    []Call
	failures map[string][]Failure
	rate     RateLimit
	rateLog  map[string][]time.Time
	blocked  map[string]time.Time
	limited  int

	responseURLs map[string]*interaction
	respSeq      int
	triggerSeq   int

	socket socketState
}

// New starts a fake Slack on 127.0.0.1 with opts.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:         opts,
		log:          opts.Logger,
		done:         make(chan struct{}),
		changed:      make(chan struct{}),
		tsMicros:     opts.Now().UnixMicro(),
		channels:     map[string]Channel{},
		users:        map[string]User{},
		groups:       map[string][]string{},
		failures:     map[string][]Failure{},
		rateLog:      map[string][]time.Time{},
		blocked:      map[string]time.Time{},
		responseURLs: map[string]*interaction{},
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.socket.init()
	for _, c := range opts.Channels {
		s.channels[c.ID] = c
	}
	for _, u := range opts.Users {
		s.users[u.ID] = u
	}
	for id, members := range opts.UserGroups {
		s.groups[id] = append([]string(nil), members...)
	}
	s.setScopesLocked(opts.Scopes)

	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/link/", s.handleSocket)
	mux.HandleFunc("/actions/", s.handleResponseURL)
	mux.HandleFunc("/commands/", s.handleResponseURL)
	s.hs = httptest.NewServer(mux)
	return s
}

func (o Options) withDefaults() Options {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	if o.BotToken == "" {
		o.BotToken = DefaultBotToken
	}
	if o.AppToken == "" {
		o.AppToken = DefaultAppToken
	}
	def(&o.TeamID, DefaultTeamID)
	def(&o.TeamDomain, DefaultTeamDomain)
	def(&o.AppID, DefaultAppID)
	def(&o.BotUserID, DefaultBotUserID)
	def(&o.BotID, DefaultBotID)
	def(&o.BotName, DefaultBotName)
	if len(o.Channels) == 0 {
		o.Channels = []Channel{{ID: DefaultChannelID, Name: DefaultChannelName}}
	}
	if o.Users == nil {
		o.Users = DefaultUsers
	}
	if o.Scopes == nil {
		o.Scopes = DefaultScopes
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 5 * time.Second
	}
	if o.DisconnectGrace <= 0 {
		o.DisconnectGrace = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Close closes every connection, fails every waiting call with ErrClosed
// and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	conns := s.socket.all()
	s.mu.Unlock()

	for _, c := range conns {
		c.close()
	}
	s.hs.Close()
}

// URL returns the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.hs.URL }

// APIURL returns the Web API base for slack.OptionAPIURL, with its trailing slash.
func (s *Server) APIURL() string { return s.hs.URL + "/api/" }

// BotToken returns the xoxb- token the Web API accepts.
func (s *Server) BotToken() string { return s.opts.BotToken.Reveal() }

// AppToken returns the xapp- token apps.connections.open accepts.
func (s *Server) AppToken() string { return s.opts.AppToken.Reveal() }

// BotUserID returns the bot's user ID, as auth.test answers it.
func (s *Server) BotUserID() string { return s.opts.BotUserID }

// SetUser adds or replaces a workspace member.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// SetUserGroup sets the members of usergroup id.
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = append([]string(nil), members...)
}

// SetChannel adds or replaces a channel.
func (s *Server) SetChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[c.ID] = c
}

// SetScopes replaces the bot token's scopes; methods needing a missing one
// answer "missing_scope", and users.info leaves out emails without
// users:read.email.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setScopesLocked(scopes)
}

func (s *Server) setScopesLocked(scopes []string) {
	s.scopes = map[string]bool{}
	for _, sc := range scopes {
		s.scopes[sc] = true
	}
}

// nextTSLocked returns a fresh message timestamp, strictly increasing.
func (s *Server) nextTSLocked() string {
	s.tsMicros += 100
	return fmt.Sprintf("%d.%06d", s.tsMicros/1e6, s.tsMicros%1e6)
}

// notifyLocked wakes everything waiting for a change of state.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitChange blocks until check (run under the lock) reports true, the
// context ends or the server closes.
func (s *Server) waitChange(ctx context.Context, check func() bool) error {
	for {
		s.mu.Lock()
		if check() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return ErrClosed
		}
	}
}

func (s *Server) userName(id string) string {
	if id == s.opts.BotUserID {
		return s.opts.BotName
	}
	if u, ok := s.users[id]; ok && u.Name != "" {
		return u.Name
	}
	return id
}

// channelID resolves a channel ID, name or #name to a known channel ID.
func (s *Server) channelID(ref string) (string, bool) {
	ref = strings.TrimPrefix(ref, "#")
	if _, ok := s.channels[ref]; ok {
		return ref, true
	}
	for id, c := range s.channels {
		if c.Name == ref {
			return id, true
		}
	}
	return "", false
}
