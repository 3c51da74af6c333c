package actions

import "log/slog"

// Options are an action's process settings. Action packages declare
// theirs as an alias, so callers write dynamodb.Options{DryRun: true}.
type Options struct {
	// DryRun makes Run call no mutating operation and say what it would
	// have called instead.
	DryRun bool
	// Logger receives debug and warning lines; nil discards them.
	Logger *slog.Logger
}

// Log returns o's Logger, or one that discards when it is nil, narrowed
// with the attributes args.
func (o Options) Log(args ...any) *slog.Logger {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(args) == 0 {
		return log
	}
	return log.With(args...)
}

// MaxFailedReads is how many reads in a row may fail with a retryable
// error before following a change gives up.
const MaxFailedReads = 5

// FailedReads counts the reads that failed in a row while a Follower
// waits for a change: a change takes minutes, and a throttled or failed
// read in between is no reason to stop following it, unless it keeps
// happening. The zero value is ready to use.
type FailedReads struct {
	n int
}

// Tolerate counts one more failed read and reports whether waiting may go
// on: err is retryable and fewer than MaxFailedReads reads failed in a row.
func (f *FailedReads) Tolerate(err error) bool {
	f.n++
	return Retryable(err) && f.n < MaxFailedReads
}

// Reset starts counting again after a read that succeeded.
func (f *FailedReads) Reset() { f.n = 0 }

// Count returns how many reads failed in a row.
func (f *FailedReads) Count() int { return f.n }
