// Command demo is the README's first command: it brings up the local single-node
// cluster (hack/local-cluster.sh), installs Scrutin there with the same manifests
// users apply (config/default, through `hack/local-cluster.sh deploy`), starts a mail
// catcher (mailpit, built from the Go module proxy) that the election mails its
// codes to, applies a small association's Election that opens a minute later, and
// prints where to vote, where to read the voters' codes, the scrutineers' page and
// the kubectl commands to watch the vote.
//
// Voters reach the election through the local cluster's Gateway (Traefik, over
// HTTPS, at the election's status.url); since a browser on this machine resolves
// no host of the cluster's domain and does not trust its CA, the demo serves a
// small bridge on 127.0.0.1 that passes every request to the Gateway with the
// election's host name, checking the Gateway's certificate against the local CA.
//
// Ctrl-C stops what the demo runs on the host (the mail catcher and the web
// bridge); the cluster keeps running, so a second `make demo` starts a new election
// in seconds. `make demo-down` (demo --down) removes everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/localcluster"
)

// options are the demo's flags.
type options struct {
	tenant     string        // the tenant namespace
	listen     string        // the voters' and scrutineers' address on the host
	mailListen string        // mailpit's web page on the host
	smtpPort   int           // mailpit's SMTP port, on the cluster network's host side
	hostIP     string        // the host's side of the cluster network (hack/local-cluster.sh)
	opensIn    time.Duration // from now to the opening
	lasts      time.Duration // from the opening to the close
	down       bool          // remove everything instead
}

// Names the demo gives things in the cluster.
const (
	electionName = "board-2027"
)

func main() {
	var o options
	flag.StringVar(&o.tenant, "tenant", "demo-association", "the tenant namespace the Election goes into")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8080", "where the voter and scrutineer pages are served on this machine")
	flag.StringVar(&o.mailListen, "mail-listen", "127.0.0.1:8025", "where the mail catcher's web page is served on this machine")
	flag.IntVar(&o.smtpPort, "smtp-port", 1025, "the mail catcher's SMTP port, on the cluster network's host address")
	flag.StringVar(&o.hostIP, "host-ip", "10.10.0.1", "the host's address on the cluster network (hack/local-cluster.sh)")
	flag.DurationVar(&o.opensIn, "opens-in", time.Minute, "how long after the Election is applied it opens")
	flag.DurationVar(&o.lasts, "lasts", 2*time.Hour, "how long the vote stays open")
	flag.BoolVar(&o.down, "down", false, "stop the cluster and remove everything the demo made")
	flag.Parse()
	setLogger(os.Stderr)
	root, err := controlplane.Root()
	if err == nil {
		if o.down {
			err = down(root)
		} else {
			err = run(root, o)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, a ...any) { fmt.Printf("==> "+format+"\n", a...) }

func run(root string, o options) error {
	start := time.Now()
	out := filepath.Join(root, "_output", "demo")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "demo.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(out, "demo.pid"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if first := missingBuilds(root); len(first) > 0 {
		step("First run: building %s from the Go module proxy into bin/.", strings.Join(first, ", "))
		fmt.Println("    On 2 cores the whole first build takes about 40 minutes, once (39 measured on an idle fresh machine:")
		fmt.Println("    Kubernetes 10, Traefik 8.5, Cilium 6.5, Scrutin's images 5, CoreDNS and metrics-server 2.5 each);")
		fmt.Println("    each long build prints how far it has come; later runs start in about a minute.")
	}
	step("Starting the local cluster (hack/local-cluster.sh up)")
	if err := script(ctx, root, "hack/local-cluster.sh", "up"); err != nil {
		return err
	}
	step("Installing Scrutin from config/default (hack/local-cluster.sh deploy)")
	if err := script(ctx, root, "hack/local-cluster.sh", "deploy"); err != nil {
		return err
	}
	kubeconfig := filepath.Join(root, "_output", "local-cluster", "kubeconfig")
	k8s, err := connect(kubeconfig)
	if err != nil {
		return err
	}
	kubectlDir := controlplane.AssetsDir(root)
	step("Building the kubectl plugin into bin/kubectl-scrutin")
	if err := command(ctx, root, "go", "build", "-o", filepath.Join(root, "bin", "kubectl-scrutin"), "./cmd/kubectl-scrutin"); err != nil {
		return err
	}

	step("Starting the mail catcher (mailpit): SMTP on %s:%d, its page on %s", o.hostIP, o.smtpPort, o.mailListen)
	mailpit, err := output(ctx, root, "hack/build-mailpit.sh")
	if err != nil {
		return err
	}
	mail, err := startMailpit(strings.TrimSpace(mailpit), out, o)
	if err != nil {
		return err
	}
	defer mail.stop()

	step("Applying the tenant %s: its roll, its mail settings and an Election opening in %s", o.tenant, o.opensIn)
	if err := removeTenant(ctx, k8s, o.tenant); err != nil {
		return err
	}
	manifest := filepath.Join(out, "election.yaml")
	opens := time.Now().Add(o.opensIn).Truncate(time.Second).UTC()
	if err := writeManifest(manifest, o, opens); err != nil {
		return err
	}
	kubectl := filepath.Join(kubectlDir, "kubectl")
	if err := command(ctx, root, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", manifest); err != nil {
		return err
	}
	step("Waiting for the controller to provision the election's namespace and pod")
	if _, err := waitElection(ctx, k8s, o.tenant); err != nil {
		return err
	}
	gw, err := localcluster.LoadGateway(filepath.Join(root, "_output", "local-cluster"))
	if err != nil {
		return err
	}
	public, err := electionURL(ctx, k8s, o.tenant)
	if err != nil {
		return err
	}
	// the tenant's listener and certificate on the Gateway, as a platform gives each tenant
	if err := gw.AddTenant(ctx, k8s, o.tenant); err != nil {
		return err
	}
	step("Starting the web bridge: %s → the cluster's Gateway (Traefik, %s) → %s", o.listen, gw.Address, public)
	bridge, err := serveBridge(o.listen, public, gw)
	if err != nil {
		return err
	}
	defer bridge.Close()
	// the route answers once the Gateway has it and a voting pod is Ready
	if err := waitHTTP(ctx, "http://"+o.listen+"/healthz", 3*time.Minute); err != nil {
		return fmt.Errorf("the election through the Gateway: %w", err)
	}
	bridge.up.Store(true)

	voterURL := "http://" + o.listen + "/"
	env := fmt.Sprintf("export KUBECONFIG=%s PATH=%s:%s:$PATH", kubeconfig, kubectlDir, filepath.Join(root, "bin"))
	in := fmt.Sprintf("%s -n %s", electionName, o.tenant)
	fmt.Printf(`
Scrutin's demo is up (%s). The election opens at %s UTC, in %s, and closes %s later.

  1. Vote:           %s
                     as voter A-0001, A-0002, A-0003 or A-0004
                     (the election's own URL, %s, is served by the cluster's Gateway)
  2. Voters' codes:  http://%s/
                     the mail catcher: every code the election mails
  3. Scrutineers:    http://%s/scrutineer
                     token: kubectl get secret -n %s %s-scrutineer -o jsonpath='{.data.token}' | base64 -d
  4. Watch it:       %s
                     kubectl get elections -n %s -w
                     kubectl scrutin status %s
                     kubectl scrutin turnout %s -w
                     kubectl scrutin close %s      (then: kubectl scrutin results %s)

The Election applied: %s
Ctrl-C stops the mail catcher and the bridge; the cluster keeps running (make demo-down removes everything).
`, time.Since(start).Round(time.Second), opens.Format("15:04:05"), time.Until(opens).Round(time.Second), o.lasts,
		voterURL, public, o.mailListen, o.listen, o.tenant, electionName, env, o.tenant, in, in, in, in, manifest)

	select {
	case <-ctx.Done():
	case err := <-mail.exited:
		return fmt.Errorf("the mail catcher stopped: %v (log: %s)", err, mail.log)
	}
	fmt.Println("\n==> Stopping the mail catcher and the bridge; the cluster keeps running (make demo-down removes it)")
	return nil
}

// missingBuilds names the long builds a first run makes.
func missingBuilds(root string) []string {
	var missing []string
	for _, b := range []struct{ name, path string }{
		{"Kubernetes", filepath.Join(controlplane.AssetsDir(root), "kubelet")},
		{"Cilium", filepath.Join(root, "bin", "addons", "cilium-agent")},
		{"metrics-server", filepath.Join(root, "bin", "addons", "metrics-server")},
		{"Traefik", filepath.Join(root, "bin", "addons", "traefik")},
	} {
		if _, err := os.Stat(b.path); err != nil {
			missing = append(missing, b.name)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(root, "bin", "mailpit-*")); len(m) == 0 {
		missing = append(missing, "mailpit")
	}
	return missing
}

// script runs one of the project's scripts, its output shown as it comes.
func script(ctx context.Context, root, path string, args ...string) error {
	return command(ctx, root, filepath.Join(root, path), args...)
}

func command(ctx context.Context, dir, name string, args ...string) error {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir, c.Stdout, c.Stderr = dir, os.Stdout, os.Stderr
	if err := c.Run(); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return nil
}

// output runs a script and returns its standard output; its progress (standard
// error) is shown as it comes.
func output(ctx context.Context, root, path string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, filepath.Join(root, path), args...)
	c.Dir, c.Stderr = root, os.Stderr
	b, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return string(b), nil
}

func connect(kubeconfig string) (client.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: controlplane.Scheme()})
}

// mailpit is the running mail catcher.
type mailpit struct {
	cmd    *exec.Cmd
	log    string
	exited chan error
}

func startMailpit(bin, out string, o options) (*mailpit, error) {
	log := filepath.Join(out, "mailpit.log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	c := exec.Command(bin, "--smtp", net.JoinHostPort(o.hostIP, strconv.Itoa(o.smtpPort)), "--listen", o.mailListen,
		"--database", filepath.Join(out, "mailpit.db"), "--disable-version-check")
	c.Stdout, c.Stderr = f, f
	// it stops with the demo, even one killed
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.Start(); err != nil {
		f.Close()
		return nil, err
	}
	m := &mailpit{cmd: c, log: log, exited: make(chan error, 1)}
	go func() { m.exited <- c.Wait(); f.Close() }()
	if err := waitHTTP(context.Background(), "http://"+o.mailListen+"/api/v1/info", 30*time.Second); err != nil {
		m.stop()
		return nil, fmt.Errorf("mailpit did not answer (log: %s): %w", log, err)
	}
	return m, nil
}

func (m *mailpit) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
	}
}

// manifestTemplate is the tenant's side of the demo: a roll of four voters, mail
// through the mail catcher, and the Election.
var manifestTemplate = template.Must(template.New("election").Parse(`# The demo's tenant, applied by make demo (hack/demo).
apiVersion: v1
kind: Namespace
metadata:
  name: {{.Tenant}}
---
apiVersion: v1
kind: Secret
metadata: {name: association-roll, namespace: {{.Tenant}}}
stringData:
  roll.csv: |
    voter_id,name,email,phone
    A-0001,Camille Martin,camille.martin@example.org,
    A-0002,Jean Dupont,jean.dupont@example.org,
    A-0003,Amina Diallo,amina.diallo@example.org,
    A-0004,Louis Bernard,louis.bernard@example.org,
---
apiVersion: v1
kind: Secret
metadata: {name: association-smtp, namespace: {{.Tenant}}}
stringData:
  host: "{{.SMTPHost}}"   # the mail catcher, on the host's side of the cluster network
  port: "{{.SMTPPort}}"
  tls: none
  from: "Association des Amis du Parc <vote@example.org>"
---
apiVersion: elections.scrutin.dev/v1alpha1
kind: Election
metadata: {name: {{.Name}}, namespace: {{.Tenant}}}
spec:
  title: Élection du bureau 2027
  organization: Association des Amis du Parc
  schedule:
    opensAt: "{{.Opens}}"
    closesAt: "{{.Closes}}"
  questions:
  - id: president
    prompt: Qui doit présider l'association ?
    allowBlank: true
    options:
    - {id: camille, label: Camille Martin}
    - {id: louis, label: Louis Bernard}
  - id: budget
    prompt: Approuvez-vous le budget 2027 ?
    allowBlank: true
    options:
    - {id: approve, label: Oui}
    - {id: reject, label: Non}
  voterRoll: {secretRef: {name: association-roll}}
  authentication: {method: EmailCode}
  delivery: {smtp: {secretRef: {name: association-smtp}}}
`))

func writeManifest(path string, o options, opens time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return manifestTemplate.Execute(f, map[string]any{
		"Tenant": o.tenant, "Name": electionName, "SMTPHost": o.hostIP, "SMTPPort": o.smtpPort,
		"Opens": opens.Format(time.RFC3339), "Closes": opens.Add(o.lasts).Format(time.RFC3339),
	})
}

// removeTenant removes a previous run's tenant namespace: its Election is cancelled
// first, as the admission policy asks of an open one (config/admission).
func removeTenant(ctx context.Context, k8s client.Client, tenant string) error {
	var ns corev1.Namespace
	if err := k8s.Get(ctx, client.ObjectKey{Name: tenant}, &ns); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	fmt.Printf("    removing the previous run's namespace %s first\n", tenant)
	if err := localcluster.CancelElections(ctx, k8s, tenant); err != nil {
		return err
	}
	if err := k8s.Delete(ctx, &ns); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return poll(ctx, "namespace "+tenant+" gone", 3*time.Minute, func() (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Name: tenant}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), err
	})
}

// waitElection waits until the controller has provisioned the Election.
func waitElection(ctx context.Context, k8s client.Client, tenant string) (*scrutinv1.Election, error) {
	var e scrutinv1.Election
	err := poll(ctx, "election "+tenant+"/"+electionName+" Scheduled", 3*time.Minute, func() (bool, error) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: electionName}, &e); err != nil {
			return false, err
		}
		return e.Status.Phase == scrutinv1.PhaseScheduled || e.Status.Phase == scrutinv1.PhaseOpen,
			fmt.Errorf("phase %q, conditions %v", e.Status.Phase, e.Status.Conditions)
	})
	return &e, err
}

// electionURL waits for the tenant's Election's status.url, where its HTTPRoute
// on the cluster's Gateway serves it (hack/local-cluster.sh deploy gives the
// manager --gateway and --base-domain).
func electionURL(ctx context.Context, k8s client.Client, tenant string) (*url.URL, error) {
	var u *url.URL
	err := poll(ctx, "the election's URL (status.url)", 2*time.Minute, func() (bool, error) {
		var e scrutinv1.Election
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: electionName}, &e); err != nil {
			return false, err
		}
		if !strings.HasPrefix(e.Status.URL, "https://") {
			return false, fmt.Errorf("status.url %q", e.Status.URL)
		}
		var err error
		u, err = url.Parse(e.Status.URL)
		return err == nil, err
	})
	return u, err
}

// serveBridge serves, on listen, a reverse proxy to the election at public
// through the Gateway gw: each request goes to the Gateway over HTTPS with the
// election's host name, and the Gateway's certificate is checked against the
// local cluster's CA.
func serveBridge(listen string, public *url.URL, gw *localcluster.Gateway) (*bridge, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("%s is taken: stop what uses it, or choose another address with DEMO_FLAGS=-listen=127.0.0.1:PORT (%w)", listen, err)
	}
	b := &bridge{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "https", Host: public.Host})
			pr.Out.Host = public.Host
		},
		Transport: gw.Transport(),
		// Until the Gateway serves the tenant's listener it answers with its
		// default certificate, which the bridge refuses: the demo waits for that
		// (waitHTTP), without printing each refusal. Once the demo is up, a
		// failure is one line that says where it happened.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if b.up.Load() {
				fmt.Fprintf(os.Stderr, "bridge: %s %s: the Gateway did not answer: %v\n", r.Method, r.URL.Path, err)
			}
			http.Error(w, "The election is not reachable through the cluster's Gateway: "+err.Error(), http.StatusBadGateway)
		},
	}
	b.Server = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = b.Serve(l) }()
	return b, nil
}

// bridge is the demo's web bridge; up is set once the demo has printed its pages.
type bridge struct {
	*http.Server
	up atomic.Bool
}

func waitHTTP(ctx context.Context, u string, timeout time.Duration) error {
	return poll(ctx, u, timeout, func() (bool, error) {
		resp, err := http.Get(u)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("HTTP %d", resp.StatusCode)
	})
}

// poll checks cond every half second until it holds, ctx ends or timeout passes.
func poll(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s (last: %v)", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// down stops a running demo, the cluster, and removes what the demo wrote.
func down(root string) error {
	out := filepath.Join(root, "_output", "demo")
	if b, err := os.ReadFile(filepath.Join(out, "demo.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
				step("Stopping the running demo (pid %d)", pid)
				_ = p.Signal(syscall.SIGTERM)
				for i := 0; i < 40 && p.Signal(syscall.Signal(0)) == nil; i++ {
					time.Sleep(250 * time.Millisecond)
				}
			}
		}
	}
	step("Stopping the local cluster (hack/local-cluster.sh down)")
	if err := script(context.Background(), root, "hack/local-cluster.sh", "down"); err != nil {
		return err
	}
	step("Removing %s", out)
	return os.RemoveAll(out)
}
