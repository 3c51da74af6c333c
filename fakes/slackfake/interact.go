package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// verificationToken is the deprecated token Slack still puts in payloads.
const verificationToken = "LEGACY-VERIFICATION-TOKEN-IGNORED"

// interaction is what a response_url (or a slash command's ack payload)
// acts on.
type interaction struct {
	kind      string // "commands" or "actions"
	channel   string
	user      string
	messageTS string // the clicked message, for actions
	ephemeral bool   // the clicked message is ephemeral
	threadTS  string // the clicked message's thread
	created   time.Time
	uses      int
}

// newResponseURLLocked registers it and returns its URL on this server.
func (s *Server) newResponseURLLocked(it *interaction) string {
	s.respSeq++
	it.created = s.opts.Now()
	path := fmt.Sprintf("/%s/%s/%013d/FAKEresponseURL%04d", it.kind, s.opts.TeamID,
		7000000000000+s.respSeq, s.respSeq)
	s.responseURLs[path] = it
	return s.hs.URL + path
}

func (s *Server) nextTriggerIDLocked() string {
	s.triggerSeq++
	return fmt.Sprintf("%013d.6000000000001.%032x", 7000000000000+s.triggerSeq, s.triggerSeq)
}

// SlashArgs describes a slash command a person types.
type SlashArgs struct {
	Command string // default "/cato"
	Text    string
	User    string // user ID
	Channel string // channel ID or name; default the first channel
}

// SlashCommand sends a slash_commands envelope and waits for its ack. An
// ack payload is shown as Slack shows it: to the user only, or in the
// channel for response_type "in_channel".
func (s *Server) SlashCommand(ctx context.Context, a SlashArgs) (Ack, error) {
	if a.Command == "" {
		a.Command = "/cato"
	}
	s.mu.Lock()
	ch, err := s.resolveChannelLocked(a.Channel)
	if err != nil {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("slash command %s: %w", a.Command, err)
	}
	it := &interaction{kind: "commands", channel: ch, user: a.User}
	payload := map[string]any{
		"token":                 verificationToken,
		"team_id":               s.opts.TeamID,
		"team_domain":           s.opts.TeamDomain,
		"channel_id":            ch,
		"channel_name":          s.channels[ch].Name,
		"user_id":               a.User,
		"user_name":             s.userName(a.User),
		"command":               a.Command,
		"text":                  a.Text,
		"api_app_id":            s.opts.AppID,
		"is_enterprise_install": "false",
		"response_url":          s.newResponseURLLocked(it),
		"trigger_id":            s.nextTriggerIDLocked(),
	}
	s.mu.Unlock()

	raw, _ := json.Marshal(payload)
	return s.send(ctx, Envelope{Type: "slash_commands", Payload: raw, AcceptsResponsePayload: true}, it)
}

// ClickArgs describes a click on a button.
type ClickArgs struct {
	User      string // user ID of the clicker
	Channel   string // optional: only messages in this channel (ID or name)
	Label     string // the button's label, e.g. "Scale"
	ActionID  string // optional: match on action_id instead of (or with) Label
	MessageTS string // optional: only this message
}

// Click finds the newest message (top-level, thread reply or the clicker's
// ephemeral) with the button, sends the block_actions envelope Slack sends
// for a click on it, and waits for its ack.
func (s *Server) Click(ctx context.Context, a ClickArgs) (Ack, error) {
	s.mu.Lock()
	m, b, err := s.findButtonLocked(a)
	if err != nil {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("click %q: %w", a.Label+a.ActionID, err)
	}
	it := &interaction{
		kind: "actions", channel: m.Channel, user: a.User, messageTS: m.TS,
		ephemeral: m.Ephemeral, threadTS: m.ThreadTS,
	}
	container := map[string]any{
		"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Ephemeral,
	}
	if m.ThreadTS != "" {
		container["thread_ts"] = m.ThreadTS
	}
	action := map[string]any{
		"action_id": b.ActionID,
		"block_id":  b.BlockID,
		"text":      map[string]any{"type": "plain_text", "text": b.Label, "emoji": true},
		"value":     b.Value,
		"type":      "button",
		"action_ts": s.nextTSLocked(),
	}
	if b.Style != "" {
		action["style"] = b.Style
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  s.wireUserLocked(a.User),
		"api_app_id":            s.opts.AppID,
		"token":                 verificationToken,
		"container":             container,
		"trigger_id":            s.nextTriggerIDLocked(),
		"team":                  map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": m.Channel, "name": s.channels[m.Channel].Name},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          s.newResponseURLLocked(it),
		"actions":               []any{action},
	}
	if !m.Ephemeral {
		payload["message"] = s.wireMessage(m)
	}
	s.mu.Unlock()

	raw, _ := json.Marshal(payload)
	return s.send(ctx, Envelope{Type: "interactive", Payload: raw, AcceptsResponsePayload: true}, nil)
}

func (s *Server) findButtonLocked(a ClickArgs) (*Message, Button, error) {
	ch := ""
	if a.Channel != "" {
		id, ok := s.channelID(a.Channel)
		if !ok {
			return nil, Button{}, fmt.Errorf("channel %q not found", a.Channel)
		}
		ch = id
	}
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if (ch != "" && m.Channel != ch) || (a.MessageTS != "" && m.TS != a.MessageTS) ||
			(m.Ephemeral && m.Recipient != a.User) {
			continue
		}
		for _, b := range m.Buttons() {
			if (a.Label == "" || b.Label == a.Label) && (a.ActionID == "" || b.ActionID == a.ActionID) {
				return m, b, nil
			}
		}
	}
	return nil, Button{}, fmt.Errorf("no message has that button")
}

func (s *Server) wireUserLocked(id string) map[string]any {
	name := s.userName(id)
	return map[string]any{"id": id, "username": name, "name": name, "team_id": s.opts.TeamID}
}

func (s *Server) resolveChannelLocked(ref string) (string, error) {
	if ref == "" {
		return s.opts.Channels[0].ID, nil
	}
	id, ok := s.channelID(ref)
	if !ok {
		return "", fmt.Errorf("channel %q not found", ref)
	}
	return id, nil
}

// Event types EventArgs.Type takes.
const (
	EventMessage        = "message"
	EventAppMention     = "app_mention"
	EventMessageChanged = "message_changed"
)

// EventArgs describes an Events API event caused by a person.
type EventArgs struct {
	Type     string // EventMessage (default), EventAppMention or EventMessageChanged
	User     string
	Channel  string // ID or name; default the first channel
	Text     string // the message's text (the new text for EventMessageChanged)
	ThreadTS string
	TS       string // the message's ts; generated when empty (required for EventMessageChanged)
	EventID  string // generated when empty; reuse it to model a duplicate delivery
}

// Event sends an events_api envelope and waits for its ack. A message or
// app_mention adds the person's message to the transcript (once per ts); a
// message_changed edits it.
func (s *Server) Event(ctx context.Context, a EventArgs) (Ack, error) {
	s.mu.Lock()
	ev, err := s.buildEventLocked(&a)
	if err != nil {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("event %s: %w", a.Type, err)
	}
	s.seq++
	if a.EventID == "" {
		a.EventID = fmt.Sprintf("Ev0FAKE%06d", s.seq)
	}
	payload := map[string]any{
		"token":           verificationToken,
		"team_id":         s.opts.TeamID,
		"context_team_id": s.opts.TeamID,
		"api_app_id":      s.opts.AppID,
		"event":           ev,
		"type":            "event_callback",
		"event_id":        a.EventID,
		"event_time":      s.opts.Now().Unix(),
		"authorizations": []any{map[string]any{
			"enterprise_id": nil, "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-FAKEeventCONTEXT",
	}
	s.mu.Unlock()

	raw, _ := json.Marshal(payload)
	return s.send(ctx, Envelope{Type: "events_api", Payload: raw}, nil)
}

func (s *Server) buildEventLocked(a *EventArgs) (map[string]any, error) {
	ch, err := s.resolveChannelLocked(a.Channel)
	if err != nil {
		return nil, err
	}
	if a.Type == "" {
		a.Type = EventMessage
	}
	switch a.Type {
	case EventMessage, EventAppMention:
		if a.TS == "" {
			a.TS = s.nextTSLocked()
		}
		if s.findLocked(ch, a.TS) == nil {
			s.addMessageLocked(&Message{
				Channel: ch, TS: a.TS, ThreadTS: a.ThreadTS, User: a.User, Text: a.Text,
			})
		}
		ev := map[string]any{
			"type": a.Type, "channel": ch, "user": a.User, "text": a.Text, "ts": a.TS,
			"team": s.opts.TeamID, "event_ts": a.TS,
		}
		if a.Type == EventMessage {
			ev["channel_type"] = "channel"
			ev["client_msg_id"] = fmt.Sprintf("0b9e7a36-1111-4a2b-9c9c-%012x", s.seq)
		}
		if a.ThreadTS != "" {
			ev["thread_ts"] = a.ThreadTS
		}
		return ev, nil
	case EventMessageChanged:
		m := s.findLocked(ch, a.TS)
		if m == nil {
			return nil, fmt.Errorf("message %s not found", a.TS)
		}
		prev := map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS}
		editTS := s.nextTSLocked()
		m.Text = a.Text
		m.Edited = true
		s.notifyLocked()
		return map[string]any{
			"type": "message", "subtype": "message_changed", "channel": ch, "hidden": true,
			"message": map[string]any{
				"type": "message", "user": m.User, "text": a.Text, "ts": m.TS,
				"edited": map[string]any{"user": m.User, "ts": editTS},
			},
			"previous_message": prev,
			"ts":               editTS,
			"event_ts":         editTS,
			"channel_type":     "channel",
		}, nil
	default:
		return nil, fmt.Errorf("unsupported event type")
	}
}

// SendRaw sends an envelope given as JSON, such as a file of recorded
// frames, and waits for its ack. A response_url in its payload is replaced
// by one on this server, so that nothing is ever sent elsewhere.
func (s *Server) SendRaw(ctx context.Context, raw []byte) (Ack, error) {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Ack{}, fmt.Errorf("send raw envelope: %w", err)
	}
	var payload map[string]any
	if len(env.Payload) == 0 || json.Unmarshal(env.Payload, &payload) != nil {
		return s.send(ctx, env, nil)
	}
	if _, ok := payload["response_url"]; !ok {
		return s.send(ctx, env, nil)
	}

	s.mu.Lock()
	var it *interaction
	switch env.Type {
	case "slash_commands":
		it = &interaction{kind: "commands", channel: str(payload, "channel_id"), user: str(payload, "user_id")}
	default:
		c := obj(payload, "container")
		it = &interaction{
			kind: "actions", channel: str(c, "channel_id"), user: str(obj(payload, "user"), "id"),
			messageTS: str(c, "message_ts"), ephemeral: c["is_ephemeral"] == true,
			threadTS: str(c, "thread_ts"),
		}
	}
	payload["response_url"] = s.newResponseURLLocked(it)
	s.mu.Unlock()

	env.Payload, _ = json.Marshal(payload)
	var slash *interaction
	if env.Type == "slash_commands" {
		slash = it
	}
	return s.send(ctx, env, slash)
}

// responsePayload is a message sent to a response_url or in a slash
// command's ack.
type responsePayload struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	Attachments     json.RawMessage `json:"attachments"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal flexBool        `json:"replace_original"`
	DeleteOriginal  flexBool        `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// flexBool accepts true and "true", as Slack does.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	v := strings.Trim(string(data), `"`)
	*b = flexBool(v == "true")
	return nil
}

func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	status, code := s.serveResponseURL(r, body)

	call := Call{Method: "response_url", Params: map[string]string{"body": string(body)},
		Status: status, Error: code, At: s.opts.Now()}
	s.record(call)
	s.log.Debug("response url call", "status", status, "error", code)

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if code != "" {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": code})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true})
}

func (s *Server) serveResponseURL(r *http.Request, body []byte) (int, string) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "method_not_allowed"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.responseURLs[r.URL.Path]
	if !ok {
		return http.StatusNotFound, "invalid_url"
	}
	it.uses++
	if s.opts.Now().Sub(it.created) > ResponseURLTTL {
		return http.StatusNotFound, "expired_url"
	}
	if it.uses > ResponseURLMaxUses {
		return http.StatusNotFound, "used_url"
	}
	if code := s.applyResponseLocked(it, body); code != "" {
		return http.StatusBadRequest, code
	}
	return http.StatusOK, ""
}

// applyResponseLocked shows a response payload as Slack does and returns
// a Slack error code when it is refused.
func (s *Server) applyResponseLocked(it *interaction, body []byte) string {
	var p responsePayload
	if err := json.Unmarshal(body, &p); err != nil {
		return "invalid_payload"
	}
	if string(p.Blocks) == "null" {
		p.Blocks = nil
	}
	if string(p.Attachments) == "null" {
		p.Attachments = nil
	}
	if len(p.Blocks) > 0 {
		if errs := validateBlocks(p.Blocks); len(errs) > 0 {
			return "invalid_blocks"
		}
	}

	var orig *Message
	if it.messageTS != "" {
		if it.ephemeral {
			orig = s.findEphemeralLocked(it.messageTS)
		} else {
			orig = s.findLocked(it.channel, it.messageTS)
		}
	}
	if p.DeleteOriginal {
		if orig == nil {
			return "message_not_found"
		}
		s.removeLocked(orig)
		return ""
	}
	if p.Text == "" && isEmptyJSONArray(p.Blocks) && isEmptyJSONArray(p.Attachments) {
		return "no_text"
	}
	if p.ReplaceOriginal && orig != nil {
		orig.Text, orig.Blocks, orig.Attachments = p.Text, p.Blocks, p.Attachments
		orig.Updates++
		s.notifyLocked()
		return ""
	}

	m := &Message{
		Channel: it.channel, TS: s.nextTSLocked(), ThreadTS: p.ThreadTS, User: s.opts.BotUserID,
		BotID: s.opts.BotID, Text: p.Text, Blocks: p.Blocks, Attachments: p.Attachments,
	}
	if p.ResponseType != "in_channel" {
		m.Ephemeral, m.Recipient = true, it.user
		if m.ThreadTS == "" {
			m.ThreadTS = it.threadTS
		}
	}
	s.addMessageLocked(m)
	return ""
}
