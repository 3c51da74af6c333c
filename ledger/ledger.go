// Package ledger keeps catobot's durable state: pending steps waiting for a
// click, executions with the state before and after, the incident to card
// map, processed event ids and the audit trail. It is built on a small Store
// so that one process can keep it in a file and several replicas can share
// it in Valkey.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/thinktank/catobot/actions"
)

// ErrNotFound is returned when a key is absent.
var ErrNotFound = errors.New("ledger: not found")

// Store is the storage under a Ledger. Buckets hold keys; Create and Swap
// are atomic across every process sharing the store.
type Store interface {
	// Create stores value under key if the key is absent and reports
	// whether it did. A ttl of zero keeps the key for ever.
	Create(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error)
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	// Put stores value under key, replacing any value.
	Put(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) error
	// Swap replaces the value under key with value only if it is old now,
	// and reports whether it did. The key keeps its expiry; an absent key
	// is ErrNotFound.
	Swap(ctx context.Context, bucket, key string, old, value []byte) (bool, error)
	// Delete removes key; removing an absent key is no error.
	Delete(ctx context.Context, bucket, key string) error
	// List returns every key and value in bucket.
	List(ctx context.Context, bucket string) (map[string][]byte, error)
	// Append adds value to the end of list, keeping at most keep entries.
	Append(ctx context.Context, list string, value []byte, keep int) error
	// Tail returns at most n of list's newest entries, newest first.
	Tail(ctx context.Context, list string, n int) ([][]byte, error)
	// Close releases the store.
	Close() error
}

// Buckets and lists.
const (
	bucketEvents     = "events"
	bucketPending    = "pending"
	bucketExecutions = "executions"
	bucketCards      = "cards"
	bucketLast       = "last_change"
	listAudit        = "audit"
)

// Pending states.
const (
	StatePending   = "pending"
	StateApproved  = "approved"
	StateClaimed   = "claimed"
	StateCancelled = "cancelled"
)

// Execution states.
const (
	ExecRunning   = "running"
	ExecSucceeded = "succeeded"
	ExecFailed    = "failed"
)

// Pending is a step shown in a preview or card, waiting for a click. The
// button carries only its ID; everything the step does is here.
type Pending struct {
	ID string `json:"id"`
	// Request is what was asked; Plan is what it meant against the live
	// state when it was asked.
	Request     actions.Request `json:"request"`
	Plan        actions.Plan    `json:"plan"`
	RequestedBy string          `json:"requested_by"`
	Channel     string          `json:"channel"`
	// MessageTS is the preview or card that shows the step; ThreadTS is
	// the thread its progress goes to.
	MessageTS  string    `json:"message_ts"`
	ThreadTS   string    `json:"thread_ts"`
	IncidentID string    `json:"incident_id,omitempty"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	// Approval says why a second person must approve, if one must.
	Approval   string `json:"approval,omitempty"`
	ApprovedBy string `json:"approved_by,omitempty"`
	State      string `json:"state"`
}

// Execution is one run of a pending step. Its ID is the pending step's ID,
// which is what makes a second claim fail.
type Execution struct {
	ID          string          `json:"id"`
	Plan        actions.Plan    `json:"plan"`
	RequestedBy string          `json:"requested_by"`
	ApprovedBy  string          `json:"approved_by,omitempty"`
	Channel     string          `json:"channel"`
	ThreadTS    string          `json:"thread_ts"`
	ProgressTS  string          `json:"progress_ts,omitempty"`
	IncidentID  string          `json:"incident_id,omitempty"`
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished,omitzero"`
	State       string          `json:"state"`
	Before      []actions.Field `json:"before,omitempty"`
	Result      actions.Result  `json:"result,omitzero"`
	Error       string          `json:"error,omitempty"`
	// Owner names the process following the execution.
	Owner string `json:"owner"`
}

// Card is where an incident's card is in Slack.
type Card struct {
	IncidentID string `json:"incident_id"`
	Channel    string `json:"channel"`
	TS         string `json:"ts"`
	// PendingID is the step the card suggests, if any.
	PendingID string `json:"pending_id,omitempty"`
}

// Entry is one line of the audit trail.
type Entry struct {
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"` // "request", "approve", "refuse", "run", "result", ...
	Component  string    `json:"component,omitempty"`
	Summary    string    `json:"summary"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	Result     string    `json:"result,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	ThreadTS   string    `json:"thread_ts,omitempty"`
	IncidentID string    `json:"incident_id,omitempty"`
}

// LastChange records a component's value before the bot last changed it,
// for rollback and cooldowns.
type LastChange struct {
	Component string           `json:"component"`
	Plan      actions.Plan     `json:"plan"`
	At        time.Time        `json:"at"`
	By        string           `json:"by"`
	Changes   []actions.Change `json:"changes"`
}

// Ledger is the typed view of a Store.
type Ledger struct {
	store    Store
	eventTTL time.Duration
}

// New returns a Ledger over store. Event ids are remembered for eventTTL.
func New(store Store, eventTTL time.Duration) *Ledger {
	return &Ledger{store: store, eventTTL: eventTTL}
}

// Store returns the underlying store.
func (l *Ledger) Store() Store { return l.store }

// FirstSeen records an event id from source and reports whether this is
// the first time any process has seen it.
func (l *Ledger) FirstSeen(ctx context.Context, source, id string) (bool, error) {
	return l.store.Create(ctx, bucketEvents, source+":"+id, []byte(time.Now().UTC().Format(time.RFC3339)), l.eventTTL)
}

// SavePending stores p, replacing any earlier version.
func (l *Ledger) SavePending(ctx context.Context, p Pending) error {
	return l.put(ctx, bucketPending, p.ID, p, 0)
}

// Pending returns the pending step with id, or ErrNotFound.
func (l *Ledger) Pending(ctx context.Context, id string) (Pending, error) {
	var p Pending
	err := l.get(ctx, bucketPending, id, &p)
	return p, err
}

// UpdatePending applies change to the stored pending step atomically,
// retrying when another process changed it meanwhile. change may refuse by
// returning an error, which UpdatePending returns unchanged.
func (l *Ledger) UpdatePending(ctx context.Context, id string, change func(*Pending) error) (Pending, error) {
	for attempt := range 16 {
		old, err := l.store.Get(ctx, bucketPending, id)
		if err != nil {
			return Pending{}, err
		}
		var p Pending
		if err := json.Unmarshal(old, &p); err != nil {
			return Pending{}, fmt.Errorf("ledger: decode pending %s: %w", id, err)
		}
		if err := change(&p); err != nil {
			return p, err
		}
		b, err := json.Marshal(p)
		if err != nil {
			return p, err
		}
		ok, err := l.store.Swap(ctx, bucketPending, id, old, b)
		if err != nil {
			return p, err
		}
		if ok {
			return p, nil
		}
		if err := contentionPause(ctx, attempt); err != nil {
			return Pending{}, fmt.Errorf("ledger: update pending %s: %w", id, err)
		}
	}
	return Pending{}, fmt.Errorf("ledger: update pending %s: too much contention", id)
}

// Claim starts execution e and reports whether this caller won it. Only the
// first claim of an ID ever succeeds, in any process.
func (l *Ledger) Claim(ctx context.Context, e Execution) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	return l.store.Create(ctx, bucketExecutions, e.ID, b, 0)
}

// SaveExecution stores e, replacing the earlier version.
func (l *Ledger) SaveExecution(ctx context.Context, e Execution) error {
	return l.put(ctx, bucketExecutions, e.ID, e, 0)
}

// Execution returns the execution with id, or ErrNotFound.
func (l *Ledger) Execution(ctx context.Context, id string) (Execution, error) {
	var e Execution
	err := l.get(ctx, bucketExecutions, id, &e)
	return e, err
}

// Running returns every execution still marked running.
func (l *Ledger) Running(ctx context.Context) ([]Execution, error) {
	all, err := l.store.List(ctx, bucketExecutions)
	if err != nil {
		return nil, err
	}
	var out []Execution
	for id, b := range all {
		var e Execution
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("ledger: decode execution %s: %w", id, err)
		}
		if e.State == ExecRunning {
			out = append(out, e)
		}
	}
	return out, nil
}

// SetCard records where an incident's card is.
func (l *Ledger) SetCard(ctx context.Context, c Card) error {
	return l.put(ctx, bucketCards, c.IncidentID, c, 0)
}

// CreateCard records c only if the incident has no card yet, and reports
// whether it did; the loser should update the winner's card instead.
func (l *Ledger) CreateCard(ctx context.Context, c Card) (bool, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	return l.store.Create(ctx, bucketCards, c.IncidentID, b, 0)
}

// Card returns the incident's card, or ErrNotFound.
func (l *Ledger) Card(ctx context.Context, incidentID string) (Card, error) {
	var c Card
	err := l.get(ctx, bucketCards, incidentID, &c)
	return c, err
}

// SetLastChange records the component's last change by the bot.
func (l *Ledger) SetLastChange(ctx context.Context, c LastChange) error {
	return l.put(ctx, bucketLast, c.Component, c, 0)
}

// LastChange returns the component's last change by the bot, or ErrNotFound.
func (l *Ledger) LastChange(ctx context.Context, component string) (LastChange, error) {
	var c LastChange
	err := l.get(ctx, bucketLast, component, &c)
	return c, err
}

// Audit appends e to the audit trail.
func (l *Ledger) Audit(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return l.store.Append(ctx, listAudit, b, 10000)
}

// History returns at most n audit entries, newest first, for component or
// for all components when component is "".
func (l *Ledger) History(ctx context.Context, component string, n int) ([]Entry, error) {
	raw, err := l.store.Tail(ctx, listAudit, 10000)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, b := range raw {
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			continue
		}
		if component != "" && e.Component != component {
			continue
		}
		out = append(out, e)
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// contentionPause waits a random time of up to 2^attempt ms (at most
// 100ms), so that writers who lost a Swap to each other do not collide
// again at once.
func contentionPause(ctx context.Context, attempt int) error {
	limit := min(time.Millisecond<<min(attempt, 7), 100*time.Millisecond)
	d := time.Duration(rand.Int64N(int64(limit)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (l *Ledger) put(ctx context.Context, bucket, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("ledger: encode %s %s: %w", bucket, key, err)
	}
	return l.store.Put(ctx, bucket, key, b, ttl)
}

func (l *Ledger) get(ctx context.Context, bucket, key string, v any) error {
	b, err := l.store.Get(ctx, bucket, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("ledger: decode %s %s: %w", bucket, key, err)
	}
	return nil
}
