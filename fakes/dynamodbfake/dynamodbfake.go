// Package dynamodbfake is a DynamoDB API on the wire, for tests and the
// sandbox. It speaks awsJson1_0 (X-Amz-Target DynamoDB_20120810.<Op>) for
// DescribeTable and UpdateTable, moves a table from UPDATING to ACTIVE
// after a set number of DescribeTable calls, and counts throughput
// decreases the way DynamoDB does: four at any time in a UTC day, then one
// an hour, refused with LimitExceededException.
package dynamodbfake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// ContentType is the awsJson1_0 content type DynamoDB answers with.
const ContentType = "application/x-amz-json-1.0"

// FreeDecreases is how many throughput decreases a table may have at any
// time in one UTC day; after them, one more each hour.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#default-limits-throughput
const FreeDecreases = 4

// Table states and billing modes, as DynamoDB spells them.
const (
	StatusActive   = "ACTIVE"
	StatusUpdating = "UPDATING"
	Provisioned    = "PROVISIONED"
	PayPerRequest  = "PAY_PER_REQUEST"
)

// Table is a table's state in the fake.
type Table struct {
	Name        string
	Status      string // ACTIVE, UPDATING, ...
	BillingMode string // PROVISIONED or PAY_PER_REQUEST
	// Read and Write are the provisioned capacity units.
	Read, Write int64
	// DecreasesToday counts throughput decreases in LastDecrease's UTC day.
	DecreasesToday int64
	LastDecrease   time.Time
	LastIncrease   time.Time
}

// Cato returns the runbook's table: cato-semantic-memory-production,
// provisioned, 5000 read and 2500 write capacity units, ACTIVE.
func Cato() Table {
	return Table{
		Name:        "cato-semantic-memory-production",
		Status:      StatusActive,
		BillingMode: Provisioned,
		Read:        5000,
		Write:       2500,
	}
}

// Failure is an error the fake answers instead of doing an operation.
type Failure = awsfake.Failure

type change struct {
	read, write int64
	done        int
}

// Fake is a DynamoDB endpoint. Use it as an http.Handler. It is safe for
// concurrent use.
type Fake struct {
	// Recorder holds every call received.
	Recorder *awsfake.Recorder
	// Faults gives the fake Fail and ClearFailures.
	awsfake.Faults

	mu      sync.Mutex
	tables  map[string]*Table
	changes map[string]*change
	steps   int
	now     func() time.Time
}

// New returns a fake holding the tables given; with none it holds Cato().
func New(tables ...Table) *Fake {
	f := &Fake{
		Recorder: &awsfake.Recorder{},
		tables:   map[string]*Table{},
		changes:  map[string]*change{},
		steps:    2,
		now:      time.Now,
	}
	if len(tables) == 0 {
		tables = []Table{Cato()}
	}
	for _, t := range tables {
		f.SetTable(t)
	}
	return f
}

// SetTable adds or replaces a table and drops any change in progress on it.
func (f *Fake) SetTable(t Table) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t.Status = cmp.Or(t.Status, StatusActive)
	t.BillingMode = cmp.Or(t.BillingMode, Provisioned)
	f.tables[t.Name] = &t
	delete(f.changes, t.Name)
}

// Table returns a copy of the named table and reports whether it exists.
func (f *Fake) Table(name string) (Table, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tables[name]
	if !ok {
		return Table{}, false
	}
	return *t, true
}

// SetSteps sets how many DescribeTable calls an update takes to finish
// (at least 1; 2 by default).
func (f *Fake) SetSteps(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.steps = max(n, 1)
}

// SetClock sets the fake's clock, used to count decreases per UTC day.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// ServeHTTP answers one awsJson1_0 request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, err := awsfake.ReadJSON(r)
	if err != nil {
		f.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	f.Recorder.Record(awsfake.Call{Service: awsfake.SigningService(r), Op: op, Body: body})

	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.Take(op); ok {
		f.fail(w, fl.Status, fl.Code, fl.Message)
		return
	}
	var in struct {
		TableName             string
		ProvisionedThroughput *struct {
			ReadCapacityUnits  *int64
			WriteCapacityUnits *int64
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		f.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	t, ok := f.tables[in.TableName]
	if !ok && (op == "DescribeTable" || op == "UpdateTable") {
		f.fail(w, http.StatusBadRequest, "ResourceNotFoundException",
			fmt.Sprintf("Requested resource not found: Table: %s not found", in.TableName))
		return
	}
	switch op {
	case "DescribeTable":
		f.advance(t)
		awsfake.WriteJSON(w, ContentType, map[string]any{"Table": f.render(t)})
	case "UpdateTable":
		if in.ProvisionedThroughput == nil || in.ProvisionedThroughput.ReadCapacityUnits == nil ||
			in.ProvisionedThroughput.WriteCapacityUnits == nil {
			f.fail(w, http.StatusBadRequest, "ValidationException",
				"One or more parameter values were invalid: ProvisionedThroughput needs ReadCapacityUnits and WriteCapacityUnits")
			return
		}
		pt := in.ProvisionedThroughput
		f.update(w, t, *pt.ReadCapacityUnits, *pt.WriteCapacityUnits)
	default:
		f.fail(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("the fake does not implement %s", op))
	}
}

func (f *Fake) fail(w http.ResponseWriter, status int, code, msg string) {
	awsfake.WriteJSONError(w, ContentType, status, code, msg)
}

func (f *Fake) update(w http.ResponseWriter, t *Table, read, write int64) {
	now := f.now().UTC()
	switch {
	case t.Status != StatusActive:
		f.fail(w, http.StatusBadRequest, "ResourceInUseException",
			fmt.Sprintf("Attempt to change a resource which is still in use: Table is being updated: %s", t.Name))
		return
	case t.BillingMode == PayPerRequest:
		f.fail(w, http.StatusBadRequest, "ValidationException",
			"One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits "+
				"can be specified when BillingMode is PAY_PER_REQUEST")
		return
	case read < 1 || write < 1:
		f.fail(w, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value at 'provisionedThroughput' failed to satisfy constraint: "+
				"Member must have value greater than or equal to 1")
		return
	case read == t.Read && write == t.Write:
		f.fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf(
			"The provisioned throughput for the table will not change. The requested value equals the current value. "+
				"Current ReadCapacityUnits provisioned for the table: %d. Requested ReadCapacityUnits: %d. "+
				"Current WriteCapacityUnits provisioned for the table: %d. Requested WriteCapacityUnits: %d. "+
				"Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
			t.Read, read, t.Write, write))
		return
	}

	if read < t.Read || write < t.Write {
		if !sameUTCDay(t.LastDecrease, now) {
			t.DecreasesToday = 0
		}
		if t.DecreasesToday >= FreeDecreases && now.Sub(t.LastDecrease) < time.Hour {
			f.fail(w, http.StatusBadRequest, "LimitExceededException", decreaseMessage(t))
			return
		}
		t.DecreasesToday++
		t.LastDecrease = now
	}
	if read > t.Read || write > t.Write {
		t.LastIncrease = now
	}
	t.Status = StatusUpdating
	f.changes[t.Name] = &change{read: read, write: write}
	awsfake.WriteJSON(w, ContentType, map[string]any{"TableDescription": f.render(t)})
}

// decreaseMessage is the LimitExceededException text DynamoDB sends when
// a table has used its decreases.
func decreaseMessage(t *Table) string {
	const layout = "Monday, January 2, 2006 3:04:05 PM MST"
	next := t.LastDecrease.Add(time.Hour)
	if midnight := t.LastDecrease.Truncate(24 * time.Hour).Add(24 * time.Hour); midnight.Before(next) {
		next = midnight
	}
	return fmt.Sprintf("Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day. "+
		"After the first %d decreases, each subsequent decrease in the same UTC day can be performed at most once "+
		"every 3600 seconds. Number of decreases today: %d. Last decrease at %s. Next decrease can be made at %s",
		FreeDecreases, t.DecreasesToday, t.LastDecrease.UTC().Format(layout), next.UTC().Format(layout))
}

func sameUTCDay(a, b time.Time) bool {
	ay, am, ad := a.UTC().Date()
	by, bm, bd := b.UTC().Date()
	return ay == by && am == bm && ad == bd
}

func (f *Fake) advance(t *Table) {
	c, ok := f.changes[t.Name]
	if !ok {
		return
	}
	c.done++
	if c.done < f.steps {
		return
	}
	t.Read, t.Write, t.Status = c.read, c.write, StatusActive
	delete(f.changes, t.Name)
}

type throughput struct {
	ReadCapacityUnits      int64    `json:"ReadCapacityUnits"`
	WriteCapacityUnits     int64    `json:"WriteCapacityUnits"`
	NumberOfDecreasesToday int64    `json:"NumberOfDecreasesToday"`
	LastDecreaseDateTime   *float64 `json:"LastDecreaseDateTime,omitempty"`
	LastIncreaseDateTime   *float64 `json:"LastIncreaseDateTime,omitempty"`
}

func (f *Fake) render(t *Table) map[string]any {
	pt := throughput{
		ReadCapacityUnits: t.Read, WriteCapacityUnits: t.Write, NumberOfDecreasesToday: t.DecreasesToday,
	}
	if t.BillingMode == PayPerRequest {
		pt.ReadCapacityUnits, pt.WriteCapacityUnits = 0, 0
	}
	if !sameUTCDay(t.LastDecrease, f.now()) {
		pt.NumberOfDecreasesToday = 0
	}
	pt.LastDecreaseDateTime = epoch(t.LastDecrease)
	pt.LastIncreaseDateTime = epoch(t.LastIncrease)
	return map[string]any{
		"TableName":             t.Name,
		"TableStatus":           t.Status,
		"TableArn":              "arn:aws:dynamodb:us-east-1:111122223333:table/" + t.Name,
		"BillingModeSummary":    map[string]any{"BillingMode": t.BillingMode},
		"ProvisionedThroughput": pt,
		"ItemCount":             0,
		"TableSizeBytes":        0,
	}
}

func epoch(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := float64(t.UnixMilli()) / 1000
	return &v
}
