package sandbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/sandbox"
)

// The catobot binary is built once per test binary, into buildDir.
var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// catobotBinary builds ./cmd/catobot once and returns its path.
func catobotBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "catobot-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "catobot")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/thinktank/catobot/cmd/catobot")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/catobot: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// childOptions say how a `catobot serve` child process is configured.
type childOptions struct {
	// LedgerURL is the shared ledger, a redis:// URL.
	LedgerURL string
	// Users may act; default the sandbox's two people.
	Users []string
	// ButtonTTL is access.button_ttl; zero keeps the default.
	ButtonTTL time.Duration
	// Heartbeat is ledger.heartbeat; zero keeps the default.
	Heartbeat time.Duration
	// LeaseTTL is lease.ttl, how long a dead leader blocks the others;
	// zero keeps the default.
	LeaseTTL time.Duration
}

// childConfig is the YAML config of a child: the sandbox's settings
// (people allowed to act, short polls) with the ledger in Redis.
func childConfig(o childOptions) string {
	users := o.Users
	if len(users) == 0 {
		users = []string{sandbox.OnCallUser, sandbox.SecondUser}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "slack:\n  channel: cato-oncall\n")
	fmt.Fprintf(&b, "access:\n  users: [%s]\n", strings.Join(users, ", "))
	if o.ButtonTTL > 0 {
		fmt.Fprintf(&b, "  button_ttl: %s\n", o.ButtonTTL)
	}
	fmt.Fprintf(&b, "ledger:\n  url: %q\n", o.LedgerURL)
	if o.Heartbeat > 0 {
		fmt.Fprintf(&b, "  heartbeat: %s\n", o.Heartbeat)
	}
	if o.LeaseTTL > 0 {
		fmt.Fprintf(&b, "lease:\n  ttl: %s\n", o.LeaseTTL)
	}
	// The same waits as sandbox.Config, short enough to watch.
	b.WriteString("components:\n")
	for _, c := range []string{"shadow", "nli", "cache", "dynamo"} {
		fmt.Fprintf(&b, "  %s: {poll_interval: 50ms, max_poll_interval: 200ms}\n", c)
	}
	b.WriteString("  ray: {poll_interval: 50ms}\n")
	return b.String()
}

// child is `catobot serve` running as its own process against a sandbox.
type child struct {
	cmd        *exec.Cmd
	WebhookURL string
	logs       *logBuffer
	exited     chan struct{}
}

// startChild runs `catobot serve` with the sandbox's environment and a
// config file from o, and waits until it serves and is connected to the
// fake Slack. The process is stopped when the test ends, and its log is
// checked for the secrets it was given.
func startChild(t *testing.T, sb *sandbox.Sandbox, o childOptions) *child {
	t.Helper()
	bin := catobotBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "catobot.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(childConfig(o)), 0o600))

	_, before := sb.Slack.Connections()
	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--log-level", "debug")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + dir}
	for k, v := range sb.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	setDeathSignal(cmd)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	c := &child{cmd: cmd, logs: &logBuffer{}, exited: make(chan struct{})}
	listen := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = c.logs.Write(append(append([]byte(nil), line...), '\n'))
			_, _ = testLog{t}.Write(line)
			var rec struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "catobot serving" && rec.Listen != "" {
				select {
				case listen <- rec.Listen:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop()
		out := c.logs.String()
		for name, v := range sb.Env() {
			if isSecret(name) {
				require.NotContains(t, out, v, "the child's log shows %s", name)
			}
		}
		if u, err := url.Parse(o.LedgerURL); err == nil {
			if pw, ok := u.User.Password(); ok {
				require.NotContains(t, out, pw, "the child's log shows the Redis password")
			}
		}
	})

	select {
	case addr := <-listen:
		c.WebhookURL = "http://" + addr + "/webhooks/pagerduty"
	case <-c.exited:
		t.Fatalf("catobot serve exited before serving; log:\n%s", c.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("catobot serve did not serve within 60s; log:\n%s", c.logs.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, sb.Slack.WaitConnections(ctx, before+1), "the child never connected to the fake Slack")
	return c
}

// Kill ends the process at once with SIGKILL, as a crash would, and waits
// until it is gone.
func (c *child) Kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Kill()
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("killed child did not exit within 30s")
	}
}

// stop asks the process to stop, and kills it when it does not.
func (c *child) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}
