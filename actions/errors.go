package actions

import "errors"

// Explain returns the message a person should read for err: an *Error's
// plain words, or a generic line for anything else.
func Explain(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	if err == nil {
		return ""
	}
	return "the step failed: " + err.Error()
}

// KindOf returns err's Kind, or KindInternal when err is no *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Retryable reports whether trying err's operation again later may succeed.
func Retryable(err error) bool {
	return KindOf(err) == KindUnavailable
}
