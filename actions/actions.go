// Package actions defines what a runbook step is and how catobot carries one
// out. Each target system has its own package below this one; this package
// holds only the shared interface, types and helpers.
package actions

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Component names, as people type them after /cato.
const (
	Shadow     = "shadow"
	NLI        = "nli"
	Ray        = "ray"
	Cache      = "cache"
	Dynamo     = "dynamo"
	OpenSearch = "opensearch"
	Terraform  = "terraform"
)

// Verbs a component may accept.
const (
	VerbScale    = "scale"
	VerbReplicas = "replicas"
	VerbHPA      = "hpa"
	VerbRollback = "rollback"
	VerbTier     = "tier"
)

// Action is one target system the bot can read and change. It has no Slack
// types: the bot turns its plain structs into messages.
type Action interface {
	// Status reads the component's live state.
	Status(ctx context.Context) (Status, error)
	// Plan reads the live state and works out what req would change,
	// without changing anything. Bad arguments come back as an *Error of
	// kind KindUsage.
	Plan(ctx context.Context, req Request) (Plan, error)
	// Run carries out a plan that Plan made, reports progress through
	// progress, and returns the state after. In dry-run mode it changes
	// nothing and says what it would have called.
	Run(ctx context.Context, p Plan, progress Progress) (Result, error)
}

// Follower is implemented by actions whose change keeps going after Run's
// API call returns (a SageMaker update, a rollout). Follow waits for such a
// change, started earlier, possibly by another process, to finish.
type Follower interface {
	Follow(ctx context.Context, p Plan, progress Progress) (Result, error)
}

// Progress receives short progress lines while a step runs, such as
// "7/15 instances in service". It must not block for long.
type Progress func(line string)

// Request is what a person or a rule asks of a component.
type Request struct {
	Component string
	Verb      string
	// Args are the words after the component, as typed: "100", "+10",
	// "cache.r7g.2xlarge", "read=100", "max=200".
	Args []string
}

// String returns the request as it would be typed after /cato.
func (r Request) String() string {
	return strings.TrimSpace(strings.Join(append([]string{r.Verb, r.Component}, r.Args...), " "))
}

// Change is one value a plan changes, from the live value to the new one.
type Change struct {
	Field string `json:"field"` // e.g. "instances", "replicas", "node_type"
	From  string `json:"from"`
	To    string `json:"to"`
}

// Ints returns From and To as whole numbers and reports whether both are.
func (c Change) Ints() (from, to int64, ok bool) {
	f, err1 := strconv.ParseInt(c.From, 10, 64)
	t, err2 := strconv.ParseInt(c.To, 10, 64)
	return f, t, err1 == nil && err2 == nil
}

// Plan is a step worked out from live state, ready to be shown in a preview
// and stored until someone confirms it. It is plain data so that it can be
// recorded in the ledger; Run must need nothing else.
type Plan struct {
	Component string `json:"component"`
	Verb      string `json:"verb"`
	// Target names the resource, e.g. "cato-shadow-self/primary".
	Target string `json:"target"`
	// Summary is the step in words: "Shadow Self: 5 → 15 instances".
	Summary string   `json:"summary"`
	Changes []Change `json:"changes,omitempty"`
	// Params are what Run needs beyond Changes, decided by Plan.
	Params   map[string]string `json:"params,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
	// Downtime says the step interrupts service and so needs approval.
	Downtime bool `json:"downtime,omitempty"`
	// Extra are further plans to run after this one in the same
	// confirmation, such as raising an HPA's maximum before a scale.
	Extra []Plan `json:"extra,omitempty"`
}

// Status is a component's live state.
type Status struct {
	Component string `json:"component"`
	Title     string `json:"title"`  // "Shadow Self"
	Target    string `json:"target"` // "cato-shadow-self/primary"
	// State is the system's own word: InService, Updating, available.
	State  string  `json:"state"`
	Fields []Field `json:"fields,omitempty"`
}

// Field is one named value in a status or result.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Result is what a finished step reports.
type Result struct {
	// Summary is one line for the thread: "cato-shadow-self/primary now
	// has 15 instances (InService)".
	Summary string  `json:"summary"`
	Fields  []Field `json:"fields,omitempty"`
	DryRun  bool    `json:"dry_run,omitempty"`
}

// Set maps component names to their actions.
type Set map[string]Action

// Lookup returns the named component's action, or an *Error of kind
// KindUsage that lists the known components.
func (s Set) Lookup(name string) (Action, error) {
	if a, ok := s[name]; ok {
		return a, nil
	}
	return nil, Usagef("unknown component %q; known components: %s", name, strings.Join(s.Names(), ", "))
}

// Names returns the component names in a stable order.
func (s Set) Names() []string {
	order := []string{Shadow, NLI, Ray, Cache, Dynamo, OpenSearch, Terraform}
	var names []string
	for _, n := range order {
		if _, ok := s[n]; ok {
			names = append(names, n)
		}
	}
	for n := range s {
		if !contains(order, n) {
			names = append(names, n)
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseCount parses a whole number of instances or replicas between lo and
// hi. A leading + or - makes it relative to current. Errors are *Error of
// kind KindUsage and say what was wrong.
func ParseCount(arg string, current, lo, hi int64, unit string) (int64, error) {
	s := strings.TrimSpace(arg)
	rel := strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, Usagef("%q is not a whole number of %s", arg, unit)
	}
	if rel {
		n += current
	}
	switch {
	case n <= 0 && !rel:
		return 0, Usagef("%s must be at least %d, not %d", unit, max(lo, 1), n)
	case n < lo:
		return 0, Usagef("%d %s is below the lowest allowed, %d", n, unit, lo)
	case n > hi:
		return 0, Usagef("%d %s is above the highest allowed, %d", n, unit, hi)
	}
	return n, nil
}

// Kind says what sort of failure an Error is.
type Kind int

// Kinds of Error.
const (
	KindInternal    Kind = iota // a bug or an unexpected answer
	KindUsage                   // the request itself is wrong
	KindBusy                    // the resource is changing already
	KindNotFound                // the resource does not exist
	KindRefused                 // the system refused: limits, permissions
	KindUnavailable             // throttled, timed out, 5xx: safe to retry later
)

// Error is a failure written for the person who asked. Msg is in plain words
// and holds no secret; Err keeps the cause for logs.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Usagef returns an *Error of kind KindUsage.
func Usagef(format string, args ...any) error {
	return &Error{Kind: KindUsage, Msg: fmt.Sprintf(format, args...)}
}

// Errorf returns an *Error of the given kind wrapping err.
func Errorf(kind Kind, err error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}
