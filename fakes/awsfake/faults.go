package awsfake

import (
	"cmp"
	"net/http"
	"sync"
)

// Failure is an error a fake answers instead of doing an operation.
type Failure struct {
	Status int    // HTTP status; 400 when zero
	Code   string // the error code, e.g. "ThrottlingException"
	// QueryCode, when set, is sent by query-compatible services (CloudWatch)
	// in X-Amzn-Query-Error as "<QueryCode>;Sender"; the SDK then reports
	// it as the error code, as it does for the real service ("Throttling").
	QueryCode string
	Message   string
	// Times is how many calls fail; zero means every call until cleared.
	Times int
}

// Faults holds the failures injected into a fake, by operation. Embed it
// in a fake to give it Fail and ClearFailures. The zero value is ready to
// use; it is safe for concurrent use.
type Faults struct {
	mu       sync.Mutex
	failures map[string]*Failure
}

// Fail makes op answer with fl instead of acting, replacing any failure
// set for op before.
func (fs *Faults) Fail(op string, fl Failure) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.failures == nil {
		fs.failures = map[string]*Failure{}
	}
	fs.failures[op] = &fl
}

// ClearFailures removes every injected failure.
func (fs *Faults) ClearFailures() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.failures = nil
}

// Take returns the failure op should answer with now, counting down its
// Times, and reports whether there is one. Its Status is 400 when none
// was set.
func (fs *Faults) Take(op string) (Failure, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fl, ok := fs.failures[op]
	if !ok {
		return Failure{}, false
	}
	if fl.Times > 0 {
		fl.Times--
		if fl.Times == 0 {
			delete(fs.failures, op)
		}
	}
	out := *fl
	out.Status = cmp.Or(out.Status, http.StatusBadRequest)
	return out, true
}
