package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Disconnect reasons Slack sends, https://api.slack.com/apis/socket-mode#disconnect.
const (
	ReasonRefreshRequested = "refresh_requested"
	ReasonWarning          = "warning"
	ReasonLinkDisabled     = "link_disabled"
)

// writeTimeout bounds each websocket write.
const writeTimeout = 10 * time.Second

// Ack is an acknowledgement a Socket Mode client sent for an envelope.
type Ack struct {
	EnvelopeID string
	Type       string          // the envelope's type; "" when the ID was unknown
	Payload    json.RawMessage // the ack's payload; nil when it had none
	Seq        int             // arrival order among all acks, from 1
	Conn       int             // the connection it came on, numbered from 1
	Attempt    int             // retry_attempt of the newest copy sent before it
	Duplicate  bool            // the envelope had been acked before
	SentAt     time.Time       // when the envelope was first written (wall clock)
	AckedAt    time.Time       // when the ack arrived (wall clock)
}

// Latency returns the time from the envelope's first write to its ack.
func (a Ack) Latency() time.Duration { return a.AckedAt.Sub(a.SentAt) }

// Delivery is one write of an envelope to a connection.
type Delivery struct {
	EnvelopeID string
	Type       string
	Attempt    int
	Reason     string
	Conn       int
	At         time.Time
}

// Envelope is a Socket Mode envelope as Slack writes it.
type Envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

type envelope struct {
	wire    Envelope
	sent    int // retry_attempt of the newest copy written
	order   int
	conn    int
	sentAt  time.Time
	done    chan struct{}
	ack     Ack
	err     error
	slash   *interaction // where a slash command's ack payload is shown
	timeout *time.Timer
}

type conn struct {
	id        int
	ws        *websocket.Conn
	wmu       sync.Mutex
	ready     bool // under Server.mu: takes envelopes
	discard   bool // under Server.mu: acks read from it are lost
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *conn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteJSON(v)
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = c.ws.Close()
	})
}

type socketState struct {
	tickets    map[string]bool
	ticketSeq  int
	conns      map[int]*conn
	connSeq    int
	hellos     int
	rr         int
	pending    map[string]*envelope
	acked      map[string]string // envelope ID → type, once acked
	queue      []*envelope
	acks       []Ack
	deliveries []Delivery
	dropNext   int
	envSeq     int
}

func (st *socketState) init() {
	st.tickets = map[string]bool{}
	st.conns = map[int]*conn{}
	st.pending = map[string]*envelope{}
	st.acked = map[string]string{}
}

func (st *socketState) newTicketLocked() string {
	st.ticketSeq++
	t := fmt.Sprintf("%08x-fake-ticket-%04x-%012x", st.ticketSeq, st.ticketSeq, time.Now().UnixNano())
	st.tickets[t] = true
	return t
}

func (st *socketState) all() []*conn {
	out := make([]*conn, 0, len(st.conns))
	for _, c := range st.conns {
		out = append(out, c)
	}
	return out
}

func (st *socketState) readyLocked() []*conn {
	var out []*conn
	for _, c := range st.conns {
		if c.ready {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *conn) int { return a.id - b.id })
	return out
}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.socket.tickets[ticket] && !s.closed
	delete(s.socket.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("socket upgrade failed", "err", err)
		return
	}
	c := &conn{ws: ws, closed: make(chan struct{})}
	s.mu.Lock()
	s.socket.connSeq++
	c.id = s.socket.connSeq
	s.socket.conns[c.id] = c
	n := len(s.socket.readyLocked()) + 1
	s.mu.Unlock()

	hello := map[string]any{
		"type":            "hello",
		"num_connections": n,
		"debug_info": map[string]any{
			"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": s.opts.AppID},
	}
	if err := c.write(hello); err != nil {
		s.dropConn(c)
		return
	}
	s.ping(c)

	s.mu.Lock()
	c.ready = !s.closed
	s.socket.hellos++
	s.notifyLocked()
	s.mu.Unlock()
	s.log.Debug("socket connected", "conn", c.id)

	go s.pinger(c)
	s.flush()
	s.readLoop(c)
}

func (s *Server) ping(c *conn) {
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"),
		time.Now().Add(writeTimeout)); err != nil {
		c.close()
	}
}

func (s *Server) pinger(c *conn) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			s.ping(c)
		}
	}
}

func (s *Server) readLoop(c *conn) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			break
		}
		s.handleAck(c, data)
	}
	s.dropConn(c)
}

// dropConn forgets c and queues its unacked envelopes for the next connection.
func (s *Server) dropConn(c *conn) {
	c.close()
	s.mu.Lock()
	if _, ok := s.socket.conns[c.id]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.socket.conns, c.id)
	for _, e := range s.socket.pending {
		if e.conn == c.id {
			s.requeueLocked(e)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.log.Debug("socket closed", "conn", c.id)
	s.flush()
}

// requeueLocked takes e off its connection to send it again, or gives up
// after Slack's number of retries.
func (s *Server) requeueLocked(e *envelope) {
	e.conn = 0
	if e.timeout != nil {
		e.timeout.Stop()
	}
	if e.wire.RetryAttempt >= maxRetries {
		delete(s.socket.pending, e.wire.EnvelopeID)
		e.err = fmt.Errorf("envelope %s not acked after %d retries", e.wire.EnvelopeID, maxRetries)
		close(e.done)
		return
	}
	e.wire.RetryAttempt++
	e.wire.RetryReason = RetryReasonTimeout
	s.socket.queue = append(s.socket.queue, e)
	slices.SortFunc(s.socket.queue, func(a, b *envelope) int { return a.order - b.order })
}

// flush writes queued envelopes to ready connections, round robin.
func (s *Server) flush() {
	for {
		s.mu.Lock()
		ready := s.socket.readyLocked()
		if len(s.socket.queue) == 0 || len(ready) == 0 || s.closed {
			s.mu.Unlock()
			return
		}
		e := s.socket.queue[0]
		s.socket.queue = s.socket.queue[1:]
		c := ready[s.socket.rr%len(ready)]
		s.socket.rr++
		e.conn = c.id
		e.sent = e.wire.RetryAttempt
		now := time.Now()
		if e.sentAt.IsZero() {
			e.sentAt = now
		}
		s.socket.deliveries = append(s.socket.deliveries, Delivery{
			EnvelopeID: e.wire.EnvelopeID, Type: e.wire.Type, Attempt: e.wire.RetryAttempt,
			Reason: e.wire.RetryReason, Conn: c.id, At: now,
		})
		drop := s.socket.dropNext > 0
		if drop {
			s.socket.dropNext--
			c.discard = true
			c.ready = false
		}
		wire := e.wire
		s.armTimeoutLocked(e, c.id)
		s.mu.Unlock()

		s.log.Debug("envelope sent", "envelope_id", wire.EnvelopeID, "type", wire.Type,
			"retry_attempt", wire.RetryAttempt, "conn", c.id)
		if err := c.write(wire); err != nil || drop {
			c.close()
		}
	}
}

func (s *Server) armTimeoutLocked(e *envelope, connID int) {
	if s.opts.AckTimeout <= 0 {
		return
	}
	if e.timeout != nil {
		e.timeout.Stop()
	}
	e.timeout = time.AfterFunc(s.opts.AckTimeout, func() {
		s.mu.Lock()
		if s.socket.pending[e.wire.EnvelopeID] != e || e.conn != connID {
			s.mu.Unlock()
			return
		}
		s.requeueLocked(e)
		s.mu.Unlock()
		s.flush()
	})
}

func (s *Server) handleAck(c *conn, data []byte) {
	var msg struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &msg); err != nil || msg.EnvelopeID == "" {
		s.log.Debug("socket frame ignored", "conn", c.id)
		return
	}
	if p := string(msg.Payload); p == "null" || p == "" {
		msg.Payload = nil
	}

	s.mu.Lock()
	if c.discard {
		s.mu.Unlock()
		return
	}
	ack := Ack{
		EnvelopeID: msg.EnvelopeID, Payload: msg.Payload, Seq: len(s.socket.acks) + 1,
		Conn: c.id, AckedAt: time.Now(),
	}
	e := s.socket.pending[msg.EnvelopeID]
	switch {
	case e != nil:
		ack.Type, ack.Attempt, ack.SentAt = e.wire.Type, e.sent, e.sentAt
		delete(s.socket.pending, msg.EnvelopeID)
		s.socket.queue = slices.DeleteFunc(s.socket.queue, func(x *envelope) bool { return x == e })
		s.socket.acked[msg.EnvelopeID] = e.wire.Type
		if e.timeout != nil {
			e.timeout.Stop()
		}
		e.ack = ack
		close(e.done)
		if e.slash != nil && msg.Payload != nil {
			s.applyResponseLocked(e.slash, msg.Payload)
		}
	default:
		ack.Type = s.socket.acked[msg.EnvelopeID]
		ack.Duplicate = ack.Type != ""
	}
	s.socket.acks = append(s.socket.acks, ack)
	s.notifyLocked()
	s.mu.Unlock()

	s.log.Debug("ack received", "envelope_id", ack.EnvelopeID, "conn", c.id,
		"has_payload", ack.Payload != nil, "duplicate", ack.Duplicate)
	if s.opts.OnAck != nil {
		s.opts.OnAck(ack)
	}
}

// Send writes env to a connection (waiting for one if none is open) and
// waits for its ack. An empty EnvelopeID gets a fresh one. Envelopes not
// acked when their connection drops are sent again on the next one.
func (s *Server) Send(ctx context.Context, env Envelope) (Ack, error) {
	return s.send(ctx, env, nil)
}

func (s *Server) send(ctx context.Context, env Envelope, slash *interaction) (Ack, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ack{}, ErrClosed
	}
	s.socket.envSeq++
	if env.EnvelopeID == "" {
		env.EnvelopeID = fmt.Sprintf("e%07x-fake-4000-8000-%012x", s.socket.envSeq, s.socket.envSeq)
	}
	if _, dup := s.socket.pending[env.EnvelopeID]; dup {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("send envelope %s: already waiting for its ack", env.EnvelopeID)
	}
	e := &envelope{wire: env, order: s.socket.envSeq, done: make(chan struct{}), slash: slash}
	s.socket.pending[env.EnvelopeID] = e
	s.socket.queue = append(s.socket.queue, e)
	s.mu.Unlock()
	s.flush()

	select {
	case <-e.done:
		if e.err != nil {
			return Ack{}, fmt.Errorf("send envelope: %w", e.err)
		}
		return e.ack, nil
	case <-ctx.Done():
	case <-s.done:
	}

	s.mu.Lock()
	if s.socket.pending[env.EnvelopeID] == e {
		delete(s.socket.pending, env.EnvelopeID)
		s.socket.queue = slices.DeleteFunc(s.socket.queue, func(x *envelope) bool { return x == e })
		if e.timeout != nil {
			e.timeout.Stop()
		}
	}
	s.mu.Unlock()
	select {
	case <-e.done:
		if e.err == nil {
			return e.ack, nil
		}
	default:
	}
	if ctx.Err() != nil {
		return Ack{}, fmt.Errorf("wait for ack of envelope %s: %w", env.EnvelopeID, ctx.Err())
	}
	return Ack{}, ErrClosed
}

// Acks returns every ack received, in arrival order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.socket.acks)
}

// Deliveries returns every envelope write, in order, retries included.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.socket.deliveries)
}

// Unacked returns the IDs of envelopes sent or queued and not acked yet.
func (s *Server) Unacked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.socket.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Connections returns how many connections are open and ready, and how
// many got a hello since the server started.
func (s *Server) Connections() (open, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.socket.readyLocked()), s.socket.hellos
}

// WaitConnections waits until total connections got a hello since the
// server started (1 for the first connection, 2 after one reconnect...).
func (s *Server) WaitConnections(ctx context.Context, total int) error {
	err := s.waitChange(ctx, func() bool {
		return s.socket.hellos >= total && len(s.socket.readyLocked()) > 0
	})
	if err != nil {
		return fmt.Errorf("wait for socket connection %d: %w", total, err)
	}
	return nil
}

// Disconnect sends a disconnect frame with reason (ReasonRefreshRequested,
// ReasonWarning, ReasonLinkDisabled) on every open connection, sends them
// no more envelopes, and closes them after Options.DisconnectGrace.
func (s *Server) Disconnect(reason string) error {
	s.mu.Lock()
	conns := s.socket.readyLocked()
	for _, c := range conns {
		c.ready = false
	}
	s.mu.Unlock()

	frame := map[string]any{
		"type": "disconnect", "reason": reason,
		"debug_info": map[string]any{"host": "applink-fake"},
	}
	var errs []error
	for _, c := range conns {
		if err := c.write(frame); err != nil {
			errs = append(errs, fmt.Errorf("disconnect connection %d: %w", c.id, err))
		}
		time.AfterFunc(s.opts.DisconnectGrace, c.close)
	}
	return errors.Join(errs...)
}

// DropConnections closes every connection at once, with no disconnect
// frame, as a network failure would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := s.socket.all()
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// DropNextAfterSend makes the connection that gets the next envelope drop
// right after writing it: any ack it sends is lost, and the envelope is
// sent again on the next connection. Calls add up.
func (s *Server) DropNextAfterSend() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.socket.dropNext++
}
