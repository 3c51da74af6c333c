package bot

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// SocketWatcher reads slack-go's socket-mode debug output for the one thing
// the library does not pass on: why Slack asked it to disconnect. When Slack
// says Socket Mode was turned off for the app (reason "link_disabled"),
// reconnecting is pointless, so the bot stops and says why. Everything else
// written to it, payloads included, is dropped and never logged.
type SocketWatcher struct {
	log      *slog.Logger
	once     sync.Once
	disabled chan struct{}
}

// NewSocketWatcher returns a watcher that logs to log.
func NewSocketWatcher(log *slog.Logger) *SocketWatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SocketWatcher{log: log, disabled: make(chan struct{})}
}

// Disabled is closed once Slack has said Socket Mode is off for the app.
func (w *SocketWatcher) Disabled() <-chan struct{} { return w.disabled }

const receivedPrefix = "Received WebSocket message: "

// Output implements socketmode's logger.
func (w *SocketWatcher) Output(_ int, s string) error {
	raw, ok := strings.CutPrefix(s, receivedPrefix)
	if !ok || !strings.Contains(raw, `"disconnect"`) {
		return nil
	}
	var frame struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(raw)), &frame) != nil || frame.Type != "disconnect" {
		return nil
	}
	if frame.Reason == "link_disabled" {
		w.once.Do(func() {
			w.log.Error("slack socket mode is turned off for this app; not reconnecting",
				"reason", frame.Reason, "fix", "turn Socket Mode back on in the app's settings, then restart catobot")
			close(w.disabled)
		})
		return nil
	}
	w.log.Info("slack asked to reconnect", "reason", frame.Reason)
	return nil
}
