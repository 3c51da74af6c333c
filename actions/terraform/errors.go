package terraform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/thinktank/catobot/actions"
)

// uiMessage is one line of Terraform's machine-readable UI (plan -json, apply -json): only
// the fields the action reads.
type uiMessage struct {
	Level      string `json:"@level"`
	Message    string `json:"@message"`
	Type       string `json:"type"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
	} `json:"diagnostic"`
	Changes *struct {
		Add       int    `json:"add"`
		Change    int    `json:"change"`
		Remove    int    `json:"remove"`
		Operation string `json:"operation"`
	} `json:"changes"`
}

// uiLog collects Terraform's JSON UI lines as they are written: error diagnostics, the change
// summary, and progress lines passed on to a callback.
type uiLog struct {
	mu       sync.Mutex
	buf      []byte
	errs     []string
	summary  *[3]int
	progress func(string)
}

// Write implements io.Writer; it is called from the goroutine that copies Terraform's output.
func (l *uiLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *uiLog) line(b []byte) {
	var m uiMessage
	if json.Unmarshal(b, &m) != nil {
		return
	}
	switch m.Type {
	case "diagnostic":
		if d := m.Diagnostic; d != nil && d.Severity == "error" {
			msg := d.Summary
			if first, _, _ := strings.Cut(strings.TrimSpace(d.Detail), "\n"); first != "" {
				msg += ": " + first
			}
			l.errs = append(l.errs, msg)
		}
	case "change_summary":
		if c := m.Changes; c != nil {
			l.summary = &[3]int{c.Add, c.Change, c.Remove}
		}
	case "apply_start", "apply_complete", "apply_errored":
		if l.progress != nil && m.Message != "" {
			l.progress(m.Message)
		}
	}
}

// errors returns the error diagnostics seen so far.
func (l *uiLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// changes returns the change summary (added, changed, destroyed), if Terraform wrote one.
func (l *uiLog) changes() (counts [3]int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.summary == nil {
		return counts, false
	}
	return *l.summary, true
}

// Diagnostic summaries that have their own explanation.
const (
	diagStale     = "Saved plan is stale"
	diagLock      = "Error acquiring the state lock"
	diagInit      = "initialization required"
	diagNotInit   = "not initialized"
	diagNoBackend = "Backend initialization required"
)

// runError explains a failed Terraform command (op: "plan", "apply", "init", "show") from its
// diagnostics, or from its standard error when it wrote none. The text is cleaned of
// environment secrets before anyone reads it.
func (a *Action) runError(ctx context.Context, op string, err error, diags []string) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) &&
			!errors.Is(cause, context.DeadlineExceeded) {
			return actions.Errorf(actions.KindBusy, err, "%s", redact(cause.Error()))
		}
		return actions.Errorf(actions.KindUnavailable, err, "terraform %s was stopped before it finished", op)
	}
	text := strings.Join(diags, "; ")
	if text == "" {
		text = stderrText(err)
	}
	text = redact(text)
	cause := errors.New(redact(err.Error()))
	switch {
	case strings.Contains(text, diagStale):
		return actions.Errorf(actions.KindBusy, errors.Join(errStale, cause),
			"the plan is stale: the Terraform state changed since this preview; ask for a fresh preview")
	case strings.Contains(text, diagLock):
		return actions.Errorf(actions.KindBusy, cause,
			"the Terraform state is locked by another run; try again when it finishes")
	case strings.Contains(text, diagNoBackend) || strings.Contains(text, diagInit) ||
		strings.Contains(text, diagNotInit):
		next := " and init did not fix it"
		if op == "show" {
			next = "; the next preview runs init"
		}
		return actions.Errorf(actions.KindRefused, errors.Join(errNotInitialised, cause),
			"%s is not initialised for Terraform%s: %s", a.cfg.Dir, next, clipText(text))
	}
	return actions.Errorf(actions.KindRefused, cause, "terraform %s failed: %s", op, clipText(text))
}

// Causes that callers inside the package branch on.
var (
	errStale          = errors.New("saved plan is stale")
	errNotInitialised = errors.New("working directory not initialised")
)

// stderrText returns the part of a terraform-exec error after its first line, which is where
// it puts Terraform's standard error, without the lines about the CLI configuration file.
func stderrText(err error) string {
	_, rest, _ := strings.Cut(err.Error(), "\n")
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(rest))
	skip := false
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "There are some problems with the CLI configuration"):
			continue
		case strings.HasPrefix(l, "Warning:"):
			skip = true
			continue
		case strings.HasPrefix(l, "Error:"):
			skip = false
			l = strings.TrimSpace(strings.TrimPrefix(l, "Error:"))
		}
		if l == "" || skip || strings.HasPrefix(l, "│") && strings.Trim(l, "│ ") == "" {
			continue
		}
		lines = append(lines, strings.TrimSpace(strings.TrimLeft(l, "│╷╵")))
	}
	if len(lines) == 0 {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return first
	}
	return strings.Join(lines, " ")
}

// clipText keeps a message to a size that reads well in a chat thread.
func clipText(s string) string {
	const n = 400
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// secretNameParts mark environment variables whose values must never reach a message.
// Terraform input variables from the environment (TF_VAR_*) are treated as secret too: that is
// how sensitive values are usually handed to Terraform.
var secretNameParts = []string{"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE",
	"_KEY", "APIKEY", "AUTH", "SESSION", "TF_VAR_"}

// minSecretLen keeps short values such as "1" or "true" from being blanked everywhere.
const minSecretLen = 6

// redact replaces the values of secret-looking environment variables in s.
func redact(s string) string {
	var secrets []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if len(v) < minSecretLen {
			continue
		}
		upper := strings.ToUpper(k)
		for _, p := range secretNameParts {
			if strings.Contains(upper, p) {
				secrets = append(secrets, v)
				break
			}
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}
