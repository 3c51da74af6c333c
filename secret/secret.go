// Package secret holds a string type for tokens and keys that never shows
// its value in logs, errors or formatted output.
package secret

import "log/slog"

// String is a secret value. Printing it with fmt or slog shows only a
// short prefix followed by a mask; Reveal returns the value for the one
// place that must send it.
type String string

const mask = "********"

// Reveal returns the secret's value.
func (s String) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s == "" }

// String returns the secret's prefix up to its first dash (xoxb-, xapp-)
// followed by a mask, or the mask alone.
func (s String) String() string {
	if s == "" {
		return ""
	}
	for i, r := range s {
		if r == '-' && i <= 5 {
			return string(s[:i+1]) + mask
		}
	}
	return mask
}

// GoString keeps %#v from showing the value.
func (s String) GoString() string { return s.String() }

// LogValue keeps slog from showing the value.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders from writing the value.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
