package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Message is a message as the channel shows it, with every update applied.
type Message struct {
	Channel     string
	TS          string
	ThreadTS    string // the parent's ts, for a thread reply
	User        string // author; the bot's user ID for the bot's messages
	BotID       string // set for the bot's messages
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
	Updates     int       // times the bot replaced it (chat.update, replace_original)
	Edited      bool      // edited by its human author
	Ephemeral   bool      // visible only to Recipient
	Recipient   string    // user ID an ephemeral message is shown to
	Replies     []Message // thread replies, in snapshots of top-level messages
	Rendered    string    // the lines Render prints for it, without author
	seq         int
}

// Buttons returns the message's buttons, in order.
func (m Message) Buttons() []Button {
	out := buttons(m.Blocks)
	var atts []node
	if len(m.Attachments) > 0 && json.Unmarshal(m.Attachments, &atts) == nil {
		for _, a := range atts {
			raw, _ := json.Marshal(a["blocks"])
			out = append(out, buttons(raw)...)
		}
	}
	return out
}

// Where says which part of the transcript a search looks at.
type Where string

// Parts of the transcript.
const (
	WhereAny       Where = ""
	WhereChannel   Where = "channel"   // top-level messages
	WhereThread    Where = "thread"    // thread replies
	WhereEphemeral Where = "ephemeral" // ephemeral messages, for any user
)

// Snapshot is the workspace's messages at one moment.
type Snapshot struct {
	Messages   []Message // top-level messages of every channel, oldest first, with Replies
	Ephemerals []Message // ephemeral messages, oldest first
	channels   []Channel
	names      map[string]string
}

// Thread returns the replies to the top-level message ts.
func (sn Snapshot) Thread(ts string) []Message {
	for _, m := range sn.Messages {
		if m.TS == ts {
			return m.Replies
		}
	}
	return nil
}

// EphemeralsFor returns the ephemeral messages shown to user.
func (sn Snapshot) EphemeralsFor(user string) []Message {
	var out []Message
	for _, m := range sn.Ephemerals {
		if m.Recipient == user {
			out = append(out, m)
		}
	}
	return out
}

// All returns every message in where, oldest first.
func (sn Snapshot) All(where Where) []Message {
	var out []Message
	if where == WhereAny || where == WhereChannel {
		for _, m := range sn.Messages {
			out = append(out, m)
		}
	}
	if where == WhereAny || where == WhereThread {
		for _, m := range sn.Messages {
			out = append(out, m.Replies...)
		}
	}
	if where == WhereAny || where == WhereEphemeral {
		out = append(out, sn.Ephemerals...)
	}
	slices.SortStableFunc(out, func(a, b Message) int { return a.seq - b.seq })
	return out
}

// Find returns the newest message in where whose text or rendered form
// contains substr.
func (sn Snapshot) Find(where Where, substr string) (Message, bool) {
	all := sn.All(where)
	for i := len(all) - 1; i >= 0; i-- {
		if strings.Contains(all[i].Rendered, substr) || strings.Contains(all[i].Text, substr) {
			return all[i], true
		}
	}
	return Message{}, false
}

// Snapshot returns the workspace's messages now.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

// Messages returns the top-level messages of every channel, oldest first,
// each with its replies.
func (s *Server) Messages() []Message { return s.Snapshot().Messages }

// Thread returns the replies to the top-level message ts.
func (s *Server) Thread(ts string) []Message { return s.Snapshot().Thread(ts) }

// Ephemerals returns the ephemeral messages shown to user.
func (s *Server) Ephemerals(user string) []Message { return s.Snapshot().EphemeralsFor(user) }

// WaitFor waits until cond holds for the transcript and returns that
// snapshot, or the context's error with the last snapshot.
func (s *Server) WaitFor(ctx context.Context, cond func(Snapshot) bool) (Snapshot, error) {
	var sn Snapshot
	err := s.waitChange(ctx, func() bool {
		sn = s.snapshotLocked()
		return cond(sn)
	})
	return sn, err
}

// WaitText waits until a message in where contains substr and returns it.
func (s *Server) WaitText(ctx context.Context, where Where, substr string) (Message, error) {
	var found Message
	_, err := s.WaitFor(ctx, func(sn Snapshot) bool {
		m, ok := sn.Find(where, substr)
		found = m
		return ok
	})
	if err != nil {
		return Message{}, fmt.Errorf("wait for %q in %s: %w", substr, whereName(where), err)
	}
	return found, nil
}

func whereName(w Where) string {
	if w == WhereAny {
		return "any message"
	}
	return string(w)
}

// Render writes the transcript as a person reads it.
func (s *Server) Render(w io.Writer) error { return s.Snapshot().Render(w) }

func (s *Server) addMessageLocked(m *Message) {
	s.seq++
	m.seq = s.seq
	s.messages = append(s.messages, m)
	s.notifyLocked()
}

// findLocked returns the visible (not ephemeral) message ts in channel.
func (s *Server) findLocked(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts && !m.Ephemeral {
			return m
		}
	}
	return nil
}

func (s *Server) findEphemeralLocked(ts string) *Message {
	for _, m := range s.messages {
		if m.TS == ts && m.Ephemeral {
			return m
		}
	}
	return nil
}

func (s *Server) removeLocked(m *Message) {
	s.messages = slices.DeleteFunc(s.messages, func(x *Message) bool { return x == m })
	s.notifyLocked()
}

func (s *Server) nameLocked(id string) string {
	if c, ok := s.channels[id]; ok {
		return "#" + c.Name
	}
	return s.userName(id)
}

func (s *Server) snapshotLocked() Snapshot {
	sn := Snapshot{names: map[string]string{}}
	for _, m := range s.messages {
		for _, id := range []string{m.User, m.Recipient, m.Channel} {
			if id != "" {
				sn.names[id] = s.nameLocked(id)
			}
		}
	}
	names := func(id string) string {
		if n, ok := sn.names[id]; ok {
			return n
		}
		n := s.nameLocked(id)
		sn.names[id] = n
		return n
	}

	top := map[string]int{} // channel+ts → index in sn.Messages
	for _, m := range s.messages {
		c := *m
		c.Blocks = slices.Clone(m.Blocks)
		c.Attachments = slices.Clone(m.Attachments)
		c.Rendered = strings.Join(messageLines(c, names), "\n")
		switch {
		case c.Ephemeral:
			sn.Ephemerals = append(sn.Ephemerals, c)
		case c.ThreadTS == "":
			top[c.Channel+"/"+c.TS] = len(sn.Messages)
			sn.Messages = append(sn.Messages, c)
		default:
			if i, ok := top[c.Channel+"/"+c.ThreadTS]; ok {
				sn.Messages[i].Replies = append(sn.Messages[i].Replies, c)
			}
		}
	}
	for _, ch := range s.opts.Channels {
		sn.channels = append(sn.channels, s.channels[ch.ID])
	}
	for id, ch := range s.channels {
		if !slices.ContainsFunc(sn.channels, func(c Channel) bool { return c.ID == id }) {
			sn.channels = append(sn.channels, ch)
		}
	}
	return sn
}

// messageLines renders m's content: its blocks when it has any, else its
// text, then its attachments.
func messageLines(m Message, names func(string) string) []string {
	var lines []string
	if blocks := renderBlocks(m.Blocks, names); len(blocks) > 0 {
		lines = blocks
	} else if m.Text != "" {
		for _, l := range strings.Split(m.Text, "\n") {
			lines = append(lines, readable(l, names))
		}
	}
	var atts []node
	if len(m.Attachments) > 0 && json.Unmarshal(m.Attachments, &atts) == nil {
		for _, a := range atts {
			raw, _ := json.Marshal(a["blocks"])
			al := renderBlocks(raw, names)
			if len(al) == 0 {
				t := str(a, "text")
				if t == "" {
					t = str(a, "fallback")
				}
				if title := str(a, "title"); title != "" {
					al = append(al, title)
				}
				for _, l := range strings.Split(t, "\n") {
					al = append(al, readable(l, names))
				}
			}
			for _, l := range al {
				lines = append(lines, "| "+l)
			}
		}
	}
	if m.Edited && len(lines) > 0 {
		lines[len(lines)-1] += " (edited)"
	}
	return lines
}

// Render writes the snapshot as a person reads it: per channel, each
// message with its author, its blocks as text lines and its buttons as
// [ Label ], thread replies indented under "│", and ephemeral messages
// marked with whom they are shown to. Timestamps are left out so that the
// output is stable.
func (sn Snapshot) Render(w io.Writer) error {
	var sb strings.Builder
	byChannel := map[string][]Message{}
	for _, m := range sn.All(WhereChannel) {
		byChannel[m.Channel] = append(byChannel[m.Channel], m)
	}
	var threadEph []Message
	for _, m := range sn.Ephemerals {
		if m.ThreadTS != "" {
			threadEph = append(threadEph, m)
			continue
		}
		byChannel[m.Channel] = append(byChannel[m.Channel], m)
	}

	first := true
	for _, ch := range sn.channels {
		msgs := byChannel[ch.ID]
		if len(msgs) == 0 {
			continue
		}
		slices.SortStableFunc(msgs, func(a, b Message) int { return a.seq - b.seq })
		if !first {
			sb.WriteString("\n")
		}
		first = false
		sb.WriteString("#" + ch.Name + "\n")
		for _, m := range msgs {
			sb.WriteString("\n")
			sn.writeMessage(&sb, m, "")
			replies := slices.Clone(m.Replies)
			for _, e := range threadEph {
				if e.Channel == m.Channel && e.ThreadTS == m.TS {
					replies = append(replies, e)
				}
			}
			if len(replies) == 0 {
				continue
			}
			slices.SortStableFunc(replies, func(a, b Message) int { return a.seq - b.seq })
			fmt.Fprintf(&sb, "  │ thread: %d %s\n", len(replies), plural(len(replies), "reply", "replies"))
			for _, r := range replies {
				sn.writeMessage(&sb, r, "  │ ")
			}
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func (sn Snapshot) writeMessage(sb *strings.Builder, m Message, prefix string) {
	author := sn.names[m.User]
	if author == "" {
		author = m.User
	}
	if m.Ephemeral {
		who := sn.names[m.Recipient]
		if who == "" {
			who = m.Recipient
		}
		author += " (only visible to " + who + ")"
	}
	sb.WriteString(prefix + author + ":\n")
	for _, l := range strings.Split(m.Rendered, "\n") {
		sb.WriteString(strings.TrimRight(prefix+"  "+l, " ") + "\n")
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// AddMessage puts m in the transcript as if it had been posted, such as a
// card from a recorded payload; an empty TS gets a fresh one, an empty
// Channel the first channel. It returns the message as stored.
func (s *Server) AddMessage(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Channel == "" {
		m.Channel = s.opts.Channels[0].ID
	} else if id, ok := s.channelID(m.Channel); ok {
		m.Channel = id
	}
	if m.TS == "" {
		m.TS = s.nextTSLocked()
	}
	m.Replies, m.Rendered = nil, ""
	stored := m
	s.addMessageLocked(&stored)
	return stored
}
