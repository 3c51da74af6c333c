// Package redistest starts a throwaway redis-server on loopback for tests.
//
// The server listens on 127.0.0.1 only, with protected mode on, no
// persistence and its working directory in the test's temp dir; it is killed
// when the test ends. When the redis-server binary is missing the test is
// skipped, unless the environment variable CI is "true", when it fails.
//
// When CATOBOT_TEST_REDIS_URL is set (redis://127.0.0.1:<port>/0, as
// scripts/redis-test.sh prints), Start returns it instead of starting a
// server; tests must then keep their keys apart, for example with Prefix.
package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvURL names the environment variable with an existing test server's URL.
const EnvURL = "CATOBOT_TEST_REDIS_URL"

// startTimeout bounds the wait for a started server to answer PING.
const startTimeout = 20 * time.Second

// Start starts a redis-server without a password and returns its URL,
// redis://127.0.0.1:<port>/0.
func Start(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		addr := strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), "/0")
		if !strings.HasPrefix(addr, "127.0.0.1:") || !ping(addr) {
			t.Fatalf("redistest: %s=%s is not a loopback server answering PING; want redis://127.0.0.1:<port>/0",
				EnvURL, u)
		}
		return u
	}
	return start(t, "")
}

// StartAuth starts a redis-server that requires password and returns its
// URL without the password, redis://127.0.0.1:<port>/0.
func StartAuth(t testing.TB, password string) string {
	t.Helper()
	return start(t, password)
}

// Prefix returns a key prefix unique to this call, for tests sharing a
// server.
func Prefix(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(t.Name())
	return "test:" + name + ":" + hex.EncodeToString(b) + ":"
}

func start(t testing.TB, password string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found; install the Debian package redis-server " +
			"(apt-get install -y redis-server) to run the Redis tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	var lastErr error
	for range 3 {
		addr, err := tryStart(t, bin, password)
		if err == nil {
			return "redis://" + addr + "/0"
		}
		lastErr = err
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return ""
}

func tryStart(t testing.TB, bin, password string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dir := t.TempDir()
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
	}
	if password != "" {
		args = append(args, "--requirepass", password)
	}

	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitReady(addr, exited); err != nil {
		stop()
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		return "", fmt.Errorf("%w; log:\n%s", err, log)
	}
	t.Cleanup(stop)
	return addr, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until the server at addr answers PING, with PONG or with
// NOAUTH when it needs a password.
func waitReady(addr string, exited <-chan error) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited: %v", err)
		default:
		}
		if ping(addr) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer within %s", addr, startTimeout)
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false
	}
	return strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")
}
