// Package kubetest starts a real Kubernetes control plane on loopback for tests: etcd,
// kube-apiserver and kube-controller-manager (the deployment and replicaset controllers), so
// that Deployments get real ReplicaSets and revision history. No kubelet or scheduler runs,
// so pods never become ready.
//
// The binaries come from scripts/build-kube-tools.sh, which builds them into
// ${CATOBOT_TOOLS_DIR:-$HOME/.cache/catobot-tools}/kube-v1.37.2/. When they are missing,
// Start skips the test, or fails it when CI=true.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Version is the Kubernetes release the binaries are built from.
const Version = "v1.37.2"

// Binaries are the programs Start runs, as named in BinDir.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

// startTimeout bounds how long each process may take to become ready on a busy machine.
const startTimeout = 3 * time.Minute

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the API server as a cluster administrator (bearer token).
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same credentials, for a process
	// that reads KUBECONFIG.
	Kubeconfig string
	// Dir holds the certificates, keys, data and logs (logs/<program>.log).
	Dir string
}

// BinDir returns the folder the binaries are expected in.
func BinDir() string {
	root := os.Getenv("CATOBOT_TOOLS_DIR")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		root = filepath.Join(home, ".cache", "catobot-tools")
	}
	return filepath.Join(root, "kube-"+Version)
}

// Available reports which binaries are missing from BinDir; none means Start can run.
func Available() (missing []string) {
	for _, b := range Binaries {
		if info, err := os.Stat(filepath.Join(BinDir(), b)); err != nil || info.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	return missing
}

// Start runs etcd, kube-apiserver and kube-controller-manager on free loopback ports, waits
// until etcd and the API server are ready, and stops them all when t ends. Without the
// binaries it skips t, or fails it when the environment has CI=true.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if missing := Available(); len(missing) > 0 {
		msg := fmt.Sprintf("kubetest: %s missing in %s; build them with scripts/build-kube-tools.sh "+
			"(about 10 minutes on 2 cores)", strings.Join(missing, ", "), BinDir())
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	dir := t.TempDir()
	for _, sub := range []string{"logs", "pki", "etcd", "apiserver-certs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatalf("kubetest: create %s: %v", sub, err)
		}
	}
	pki, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}

	etcdURL := startEtcd(t, dir)
	port := freePort(t)
	host := "https://127.0.0.1:" + strconv.Itoa(port)
	c := &Cluster{
		Config: &rest.Config{
			Host:            host,
			BearerToken:     pki.token,
			TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM},
			QPS:             50,
			Burst:           100,
		},
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Dir:        dir,
	}
	if err := writeKubeconfig(c.Kubeconfig, host, pki); err != nil {
		t.Fatalf("kubetest: %v", err)
	}

	apiserver := start(t, dir, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// A loopback advertise address needs no endpoint reconciler; nothing here uses the
		// in-cluster "kubernetes" Service.
		"--endpoint-reconciler-type=none",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+pki.servingCert,
		"--tls-private-key-file="+pki.servingKey,
		"--token-auth-file="+pki.tokenFile,
		"--authorization-mode=AlwaysAllow",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	)
	waitReady(t, apiserver, func(ctx context.Context) error { return c.readyz(ctx) })

	start(t, dir, "kube-controller-manager",
		"--kubeconfig="+c.Kubeconfig,
		"--controllers=deployment-controller,replicaset-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--profiling=false",
		"--v=1",
	)
	return c
}

// readyz asks the API server's /readyz.
func (c *Cluster) readyz(ctx context.Context) error {
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return fmt.Errorf("api server client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Config.Host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s", resp.Status)
	}
	return nil
}

func startEtcd(t testing.TB, dir string) string {
	t.Helper()
	client := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	peer := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	p := start(t, dir, "etcd",
		"--name=kubetest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=kubetest="+peer,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	waitReady(t, p, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, client+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if !strings.Contains(b.String(), `"health":"true"`) {
			return fmt.Errorf("etcd health: %s", b.String())
		}
		return nil
	})
	return client
}

// proc is a started program.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}

	mu  sync.Mutex
	err error
}

func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// start runs BinDir()/name with args, its output in dir/logs/name.log, and stops it when t
// ends: SIGTERM, then SIGKILL after a few seconds.
func start(t testing.TB, dir, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, "logs", name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("kubetest: create %s: %v", logPath, err)
	}
	cmd := exec.Command(filepath.Join(BinDir(), name), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	// Setpgid keeps terminal signals away; Pdeathsig ends the program if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("kubetest: start %s: %v", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubetest: last lines of %s:\n%s", p.log, tail(p.log, 30))
		}
		if ok, _ := p.exited(); ok {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitReady polls ready until it succeeds, failing t when p exits or startTimeout passes.
func waitReady(t testing.TB, p *proc, ready func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		if ok, err := p.exited(); ok {
			t.Fatalf("kubetest: %s exited before it was ready (%v); its log follows", p.name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = ready(ctx)
		cancel()
		if last == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kubetest: %s not ready after %s: %v; its log follows", p.name, startTimeout, last)
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kubetest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func writeKubeconfig(path, host string, pki *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: pki.caPEM}
	cfg.AuthInfos["kubetest"] = &clientcmdapi.AuthInfo{Token: pki.token}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest"}
	cfg.CurrentContext = "kubetest"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
