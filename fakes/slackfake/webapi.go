package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Call is one Web API or response_url request the fake received, without
// its token.
type Call struct {
	Method string            // "chat.postMessage", or "response_url"
	Params map[string]string // scalar params; blocks and attachments as JSON text
	Status int               // HTTP status answered
	Error  string            // Slack error code answered, "" when ok
	At     time.Time
}

// Failure is an answer injected for the next call of a method.
type Failure struct {
	Status     int    // HTTP status; 0 means 200
	Error      string // Slack error code, e.g. "channel_not_found"
	RetryAfter int    // seconds, sent as Retry-After when set
}

// RateLimit limits chat.postMessage per channel: at most Messages within
// Window. A refused call answers HTTP 429 with Retry-After, and the channel
// stays refused until that time has passed.
type RateLimit struct {
	Messages   int           // 0 turns the limit off
	Window     time.Duration // default 1 s
	RetryAfter time.Duration // default 30 s; sent in whole seconds, at least 1
}

// methodScopes are the scopes each method needs (one of them suffices).
var methodScopes = map[string][]string{
	"chat.postMessage":      {"chat:write"},
	"chat.update":           {"chat:write"},
	"chat.delete":           {"chat:write"},
	"chat.postEphemeral":    {"chat:write"},
	"users.info":            {"users:read"},
	"usergroups.users.list": {"usergroups:read"},
	"conversations.info":    {"channels:read", "groups:read", "channels:history", "groups:history"},
}

// FailNext makes the next call of method answer f (one answer per call;
// call it again to queue more).
func (s *Server) FailNext(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], f)
}

// SetRateLimit sets (or with a zero value removes) the per-channel limit of
// chat.postMessage.
func (s *Server) SetRateLimit(r RateLimit) {
	if r.Window <= 0 {
		r.Window = time.Second
	}
	if r.RetryAfter <= 0 {
		r.RetryAfter = 30 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = r
	s.rateLog = map[string][]time.Time{}
	s.blocked = map[string]time.Time{}
}

// RateLimited returns how many calls were answered 429 so far.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Calls returns the calls received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallCount returns how many calls of method were received.
func (s *Server) CallCount(method string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// params holds a request's parameters from a form, a query or a JSON body.
type params struct {
	vals map[string]string
	raw  map[string]json.RawMessage
}

func (p params) get(k string) string { return p.vals[k] }

// json returns a JSON-valued parameter (blocks, attachments), or nil.
func (p params) json(k string) json.RawMessage {
	if r, ok := p.raw[k]; ok {
		return r
	}
	if v, ok := p.vals[k]; ok && v != "" {
		return json.RawMessage(v)
	}
	return nil
}

func (p params) has(k string) bool {
	_, okRaw := p.raw[k]
	_, okVal := p.vals[k]
	return okRaw || okVal
}

func readParams(r *http.Request) (params, error) {
	p := params{vals: map[string]string{}, raw: map[string]json.RawMessage{}}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "application/json" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return p, fmt.Errorf("read body: %w", err)
		}
		if len(strings.TrimSpace(string(body))) == 0 {
			return p, nil
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return p, fmt.Errorf("decode json body: %w", err)
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p.vals[k] = str
				continue
			}
			if k == "blocks" || k == "attachments" {
				p.raw[k] = v
				continue
			}
			p.vals[k] = strings.Trim(string(v), `"`)
		}
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return p, fmt.Errorf("parse form: %w", err)
	}
	for k := range r.Form {
		p.vals[k] = r.Form.Get(k)
	}
	return p, nil
}

// tokenOf returns the request's token from the Authorization header or the
// token parameter.
func tokenOf(r *http.Request, p params) string {
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		return strings.TrimPrefix(auth, "Bearer ")
	}
	return p.get("token")
}

// reply is one Web API answer.
type reply struct {
	status     int
	retryAfter int
	body       map[string]any
}

func okReply(fields map[string]any) reply {
	body := map[string]any{"ok": true}
	maps.Copy(body, fields)
	return reply{status: http.StatusOK, body: body}
}

func errReply(code string) reply {
	return reply{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}}
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	p, err := readParams(r)
	var rep reply
	if err != nil {
		rep = errReply("invalid_arguments")
	} else {
		rep = s.serveMethod(r, method, p)
	}

	call := Call{Method: method, Params: redactParams(p), Status: rep.status, At: s.opts.Now()}
	if ok, _ := rep.body["ok"].(bool); !ok {
		call.Error, _ = rep.body["error"].(string)
	}
	s.record(call)
	s.log.Debug("web api call", "method", method, "status", rep.status, "error", call.Error)
	writeReply(w, rep, s.scopeHeader())
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if s.opts.OnCall != nil {
		s.opts.OnCall(c)
	}
}

func (s *Server) scopeHeader() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(slices.Sorted(maps.Keys(s.scopes)), ",")
}

func writeReply(w http.ResponseWriter, rep reply, scopes string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if scopes != "" {
		w.Header().Set("X-OAuth-Scopes", scopes)
	}
	if rep.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body)
}

// redactParams copies p's values without the token.
func redactParams(p params) map[string]string {
	out := map[string]string{}
	for k, v := range p.vals {
		if k == "token" {
			continue
		}
		out[k] = v
	}
	for k, v := range p.raw {
		out[k] = string(v)
	}
	return out
}

func (s *Server) serveMethod(r *http.Request, method string, p params) reply {
	tok := tokenOf(r, p)
	if method == "apps.connections.open" {
		return s.checkAppToken(tok)
	}
	if rep, bad := s.checkBotToken(tok); bad {
		return rep
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if rep, failed := s.injectedLocked(method); failed {
		return rep
	}
	if need, ok := methodScopes[method]; ok && !s.hasAnyScopeLocked(need) {
		rep := errReply("missing_scope")
		rep.body["needed"] = need[0]
		rep.body["provided"] = strings.Join(slices.Sorted(maps.Keys(s.scopes)), ",")
		return rep
	}

	switch method {
	case "auth.test":
		return okReply(map[string]any{
			"url":                   "https://" + s.opts.TeamDomain + ".slack.com/",
			"team":                  s.opts.TeamDomain,
			"user":                  s.opts.BotName,
			"team_id":               s.opts.TeamID,
			"user_id":               s.opts.BotUserID,
			"bot_id":                s.opts.BotID,
			"is_enterprise_install": false,
		})
	case "chat.postMessage":
		return s.postMessageLocked(p)
	case "chat.update":
		return s.updateLocked(p)
	case "chat.delete":
		return s.deleteLocked(p)
	case "chat.postEphemeral":
		return s.postEphemeralLocked(p)
	case "users.info":
		return s.usersInfoLocked(p)
	case "usergroups.users.list":
		members, ok := s.groups[p.get("usergroup")]
		if !ok {
			return errReply("no_such_subteam")
		}
		return okReply(map[string]any{"users": append([]string{}, members...)})
	case "conversations.info":
		id, ok := s.channelID(p.get("channel"))
		if !ok {
			return errReply("channel_not_found")
		}
		c := s.channels[id]
		return okReply(map[string]any{"channel": map[string]any{
			"id": c.ID, "name": c.Name, "is_channel": !c.IsPrivate, "is_private": c.IsPrivate,
			"is_member": true, "is_archived": false,
		}})
	default:
		return errReply("unknown_method")
	}
}

func (s *Server) checkAppToken(tok string) reply {
	switch {
	case tok == "":
		return errReply("not_authed")
	case tok == s.opts.BotToken.Reveal():
		return errReply("not_allowed_token_type")
	case tok != s.opts.AppToken.Reveal():
		return errReply("invalid_auth")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rep, failed := s.injectedLocked("apps.connections.open"); failed {
		return rep
	}
	ticket := s.socket.newTicketLocked()
	u := strings.Replace(s.hs.URL, "http://", "ws://", 1) +
		"/link/?ticket=" + ticket + "&app_id=" + url.QueryEscape(s.opts.AppID)
	return okReply(map[string]any{"url": u})
}

func (s *Server) checkBotToken(tok string) (reply, bool) {
	switch {
	case tok == "":
		return errReply("not_authed"), true
	case tok == s.opts.AppToken.Reveal():
		return errReply("not_allowed_token_type"), true
	case tok != s.opts.BotToken.Reveal():
		return errReply("invalid_auth"), true
	}
	return reply{}, false
}

func (s *Server) injectedLocked(method string) (reply, bool) {
	q := s.failures[method]
	if len(q) == 0 {
		return reply{}, false
	}
	f := q[0]
	s.failures[method] = q[1:]
	rep := errReply(f.Error)
	if f.Status != 0 {
		rep.status = f.Status
	}
	rep.retryAfter = f.RetryAfter
	if rep.status == http.StatusTooManyRequests {
		s.limited++
	}
	return rep, true
}

func (s *Server) hasAnyScopeLocked(need []string) bool {
	for _, sc := range need {
		if s.scopes[sc] {
			return true
		}
	}
	return false
}

// rateLimitedLocked reports whether a post to channel must be refused now,
// and records the post when not.
func (s *Server) rateLimitedLocked(channel string) (reply, bool) {
	if s.rate.Messages <= 0 {
		return reply{}, false
	}
	now := s.opts.Now()
	retry := max(1, int((s.rate.RetryAfter+time.Second-1)/time.Second))
	limited := reply{
		status:     http.StatusTooManyRequests,
		retryAfter: retry,
		body:       map[string]any{"ok": false, "error": "ratelimited"},
	}
	if until, ok := s.blocked[channel]; ok && now.Before(until) {
		s.limited++
		return limited, true
	}

	recent := s.rateLog[channel][:0]
	for _, t := range s.rateLog[channel] {
		if now.Sub(t) < s.rate.Window {
			recent = append(recent, t)
		}
	}
	if len(recent) >= s.rate.Messages {
		s.rateLog[channel] = recent
		s.blocked[channel] = now.Add(time.Duration(retry) * time.Second)
		s.limited++
		return limited, true
	}
	s.rateLog[channel] = append(recent, now)
	return reply{}, false
}

// content reads text, blocks and attachments and checks them as Slack does.
func content(p params) (text string, blocks, attachments json.RawMessage, rep reply, bad bool) {
	text = p.get("text")
	blocks = p.json("blocks")
	attachments = p.json("attachments")
	if len(blocks) > 0 {
		if errs := validateBlocks(blocks); len(errs) > 0 {
			rep := errReply("invalid_blocks")
			rep.body["errors"] = errs
			return "", nil, nil, rep, true
		}
	}
	if len(attachments) > 0 && !json.Valid(attachments) {
		return "", nil, nil, errReply("invalid_attachments"), true
	}
	if len(text) > maxTextLen {
		return "", nil, nil, errReply("msg_too_long"), true
	}
	return text, blocks, attachments, reply{}, false
}

func isEmptyJSONArray(r json.RawMessage) bool {
	t := strings.TrimSpace(string(r))
	return t == "" || t == "[]" || t == "null"
}

func (s *Server) postMessageLocked(p params) reply {
	ch, ok := s.channelID(p.get("channel"))
	if !ok {
		return errReply("channel_not_found")
	}
	text, blocks, atts, rep, bad := content(p)
	if bad {
		return rep
	}
	if text == "" && isEmptyJSONArray(blocks) && isEmptyJSONArray(atts) {
		return errReply("no_text")
	}
	threadTS := p.get("thread_ts")
	if threadTS != "" {
		parent := s.findLocked(ch, threadTS)
		if parent == nil {
			return errReply("thread_not_found")
		}
		if parent.ThreadTS != "" {
			threadTS = parent.ThreadTS
		}
	}
	if rep, limited := s.rateLimitedLocked(ch); limited {
		return rep
	}

	m := &Message{
		Channel: ch, TS: s.nextTSLocked(), ThreadTS: threadTS, User: s.opts.BotUserID,
		BotID: s.opts.BotID, Text: text, Blocks: blocks, Attachments: atts,
	}
	s.addMessageLocked(m)
	return okReply(map[string]any{"channel": ch, "ts": m.TS, "message": s.wireMessage(m)})
}

func (s *Server) updateLocked(p params) reply {
	ch, ok := s.channelID(p.get("channel"))
	if !ok {
		return errReply("channel_not_found")
	}
	m := s.findLocked(ch, p.get("ts"))
	if m == nil {
		return errReply("message_not_found")
	}
	if m.User != s.opts.BotUserID {
		return errReply("cant_update_message")
	}
	text, blocks, atts, rep, bad := content(p)
	if bad {
		return rep
	}
	if p.has("text") {
		m.Text = text
	}
	if p.has("blocks") {
		m.Blocks = blocks
	}
	if p.has("attachments") {
		m.Attachments = atts
	}
	if m.Text == "" && isEmptyJSONArray(m.Blocks) && isEmptyJSONArray(m.Attachments) {
		return errReply("no_text")
	}
	m.Updates++
	s.notifyLocked()
	return okReply(map[string]any{
		"channel": ch, "ts": m.TS, "text": m.Text, "message": s.wireMessage(m),
	})
}

func (s *Server) deleteLocked(p params) reply {
	ch, ok := s.channelID(p.get("channel"))
	if !ok {
		return errReply("channel_not_found")
	}
	m := s.findLocked(ch, p.get("ts"))
	if m == nil {
		return errReply("message_not_found")
	}
	if m.User != s.opts.BotUserID {
		return errReply("cant_delete_message")
	}
	s.removeLocked(m)
	return okReply(map[string]any{"channel": ch, "ts": m.TS})
}

func (s *Server) postEphemeralLocked(p params) reply {
	ch, ok := s.channelID(p.get("channel"))
	if !ok {
		return errReply("channel_not_found")
	}
	user := p.get("user")
	if _, ok := s.users[user]; !ok {
		return errReply("user_not_found")
	}
	text, blocks, atts, rep, bad := content(p)
	if bad {
		return rep
	}
	if text == "" && isEmptyJSONArray(blocks) && isEmptyJSONArray(atts) {
		return errReply("no_text")
	}
	m := &Message{
		Channel: ch, TS: s.nextTSLocked(), ThreadTS: p.get("thread_ts"), User: s.opts.BotUserID,
		BotID: s.opts.BotID, Text: text, Blocks: blocks, Attachments: atts,
		Ephemeral: true, Recipient: user,
	}
	s.addMessageLocked(m)
	return okReply(map[string]any{"message_ts": m.TS})
}

func (s *Server) usersInfoLocked(p params) reply {
	u, ok := s.users[p.get("user")]
	if !ok {
		return errReply("user_not_found")
	}
	profile := map[string]any{"real_name": u.RealName, "display_name": u.Name}
	if u.Email != "" && s.scopes["users:read.email"] {
		profile["email"] = u.Email
	}
	return okReply(map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": s.opts.TeamID, "name": u.Name, "real_name": u.RealName,
		"deleted": u.Deleted, "is_bot": u.IsBot, "profile": profile,
	}})
}

// wireMessage is m as the Web API shows it.
func (s *Server) wireMessage(m *Message) map[string]any {
	out := map[string]any{
		"type": "message", "subtype": "bot_message", "bot_id": m.BotID, "user": m.User,
		"text": m.Text, "ts": m.TS,
	}
	if m.BotID == "" {
		delete(out, "subtype")
		delete(out, "bot_id")
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if len(m.Attachments) > 0 {
		out["attachments"] = m.Attachments
	}
	return out
}
