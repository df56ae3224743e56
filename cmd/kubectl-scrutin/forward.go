package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The voting-runtime's pods in an election's namespace carry these labels (the
// controller's runtimeSelector: specs.LabelName = specs.RuntimeName and
// specs.LabelManagedBy = scrutinv1.ManagedByController; a test checks they agree).
const (
	labelName           = "app.kubernetes.io/name"
	labelManagedBy      = "app.kubernetes.io/managed-by"
	controllerManagedBy = scrutinv1.ManagedByController
)

// The runtime's container ports: the control API is on the port named "ops" where
// the pod has one, otherwise (runtimes that serve everything on one port) on "http".
const (
	opsPortName  = "ops"
	httpPortName = "http"
)

// runtimeTarget is the pod and container port that the voter view forwards to.
type runtimeTarget struct {
	pod      *corev1.Pod
	port     int32
	portName string
}

// runtimePod finds a Ready voting-runtime pod of the election in namespace ns and
// the port of its control API.
func runtimePod(ctx context.Context, c client.Client, ns, election string) (*runtimeTarget, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{labelName: runtimeName, labelManagedBy: controllerManagedBy}); err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("you may not list pods in namespace %s, where election %q runs: the voter view forwards a port to one of its voting-runtime pods and needs, in that namespace, list on pods and create on pods/portforward (the role election-hotline)", ns, election)
		}
		return nil, fmt.Errorf("while listing the voting-runtime pods in namespace %s: %w", ns, err)
	}
	return chooseRuntimePod(pods.Items, ns, election)
}

// chooseRuntimePod picks, among the runtime's pods, the Ready one that has been
// Ready the longest (then by name), and its control port: "ops" if the pod has a
// container port of that name, otherwise "http".
func chooseRuntimePod(pods []corev1.Pod, ns, election string) (*runtimeTarget, error) {
	type candidate struct {
		target runtimeTarget
		since  int64
	}
	var ready []candidate
	var notReady []string
	for i := range pods {
		p := &pods[i]
		since, ok := readySince(p)
		if !ok {
			notReady = append(notReady, p.Name+" ("+podState(p)+")")
			continue
		}
		port, name := controlPort(p)
		if port == 0 {
			notReady = append(notReady, p.Name+" (no container port named "+opsPortName+" or "+httpPortName+")")
			continue
		}
		ready = append(ready, candidate{runtimeTarget{pod: p, port: port, portName: name}, since})
	}
	if len(ready) == 0 {
		if len(notReady) == 0 {
			return nil, fmt.Errorf("election %q has no voting-runtime pod in namespace %s: the voter view needs a running runtime (see kubectl scrutin status %s)", election, ns, election)
		}
		sort.Strings(notReady)
		return nil, fmt.Errorf("election %q has no Ready voting-runtime pod in namespace %s (%s): the voter view needs one that is Ready; try again when it is (see kubectl scrutin status %s)",
			election, ns, strings.Join(notReady, ", "), election)
	}
	sort.Slice(ready, func(i, j int) bool {
		if ready[i].since != ready[j].since {
			return ready[i].since < ready[j].since
		}
		return ready[i].target.pod.Name < ready[j].target.pod.Name
	})
	t := ready[0].target
	return &t, nil
}

// readySince says whether a pod is Running, Ready and not being deleted, and since
// when (Unix seconds) it is Ready.
func readySince(p *corev1.Pod) (int64, bool) {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return 0, false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Unix(), c.Status == corev1.ConditionTrue
		}
	}
	return 0, false
}

func podState(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Status.Phase != corev1.PodRunning:
		if p.Status.Phase == "" {
			return "not started"
		}
		return strings.ToLower(string(p.Status.Phase))
	}
	return "not ready"
}

// controlPort is the number and name of the pod's container port named "ops", else
// of the one named "http", else 0.
func controlPort(p *corev1.Pod) (int32, string) {
	for _, name := range []string{opsPortName, httpPortName} {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == name && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
					return cp.ContainerPort, name
				}
			}
		}
	}
	return 0, ""
}

// forward opens a port-forward, as kubectl port-forward does (WebSocket, falling
// back to SPDY), from an ephemeral port on 127.0.0.1 to the target's control port.
// Close it once done.
func forward(ctx context.Context, cfg *rest.Config, ns string, t *runtimeTarget) (*forwarding, error) {
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	u := core.RESTClient().Post().Resource("pods").Namespace(ns).Name(t.pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	websocket, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, err
	}
	d := &dialer{
		primary:   websocket,
		secondary: spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u),
	}

	// What goes wrong once forwarding (the runtime not listening, the pod gone) is
	// logged by client-go: keep it for the error message instead of printing it.
	logs := &forwardLog{}
	fctx, cancel := context.WithCancel(klog.NewContext(ctx, funcr.New(logs.add, funcr.Options{})))
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fctx, d, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", t.port)}, ready, io.Discard, logs)
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return nil, d.explain(ns, t, err)
	case <-ctx.Done():
		cancel()
		<-done
		return nil, ctx.Err()
	}
	f := &forwarding{logs: logs, stop: func() { cancel(); <-done }}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("the port-forward to pod %s/%s gave no local port: %v", ns, t.pod.Name, err)
	}
	f.URL = fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local)
	return f, nil
}

// forwarding is an open port-forward.
type forwarding struct {
	URL  string // http://127.0.0.1:PORT
	logs *forwardLog
	stop func()
	once sync.Once
}

// Close stops the forward and waits until it has stopped.
func (f *forwarding) Close() { f.once.Do(f.stop) }

// Problems is what went wrong while forwarding, as client-go reported it, or "".
func (f *forwarding) Problems() string { return f.logs.String() }

// dialer is kubectl port-forward's: the WebSocket tunnel first, SPDY if the API
// server does not upgrade to it. It keeps the API server's answer to the WebSocket
// attempt, which client-go's SPDY path and PortForwarder reduce to text.
type dialer struct {
	primary, secondary httpstream.Dialer
	mu                 sync.Mutex
	status             error // the API server's answer to the WebSocket upgrade, if it refused it
}

func (d *dialer) Dial(protocols ...string) (httpstream.Connection, string, error) {
	conn, protocol, err := d.primary.Dial(protocols...)
	// The WebSocket transport reports its failures with k8s.io/streaming's types.
	if err == nil || !(streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)) {
		return conn, protocol, err
	}
	var u *streamhttp.UpgradeFailureError
	if errors.As(err, &u) {
		var st apierrors.APIStatus
		if errors.As(u.Cause, &st) {
			d.mu.Lock()
			d.status = u.Cause
			d.mu.Unlock()
		}
	}
	return d.secondary.Dial(protocols...)
}

// explain turns a failed port-forward into plain words.
func (d *dialer) explain(ns string, t *runtimeTarget, err error) error {
	d.mu.Lock()
	status := d.status
	d.mu.Unlock()
	msg := strings.TrimPrefix(err.Error(), "error upgrading connection: ")
	// The final error is SPDY's (the WebSocket attempt fell back to it), as text:
	// the API server's Status message, "pods "NAME" is forbidden: User ... cannot
	// create resource "pods/portforward" ...". A refusal of the WebSocket attempt
	// alone (get allowed, not create, or the reverse) is not one: SPDY may pass.
	if strings.Contains(msg, "is forbidden") {
		return fmt.Errorf("you may not port-forward to pod %s in namespace %s: the voter view needs create on pods/portforward in that namespace (and get, for the WebSocket protocol that kubectl also uses; the role election-hotline has both)", t.pod.Name, ns)
	}
	if status != nil && !apierrors.IsNotFound(status) && !strings.Contains(msg, status.Error()) {
		msg += " (over WebSocket: " + status.Error() + ")"
	}
	return fmt.Errorf("cannot open a port-forward to pod %s/%s, port %s (%d): %s", ns, t.pod.Name, t.portName, t.port, msg)
}

// forwardLog keeps the errors that client-go logs while forwarding.
type forwardLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *forwardLog) add(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 10 {
		l.lines = append(l.lines, strings.TrimSpace(prefix+" "+args))
	}
}

func (l *forwardLog) Write(p []byte) (int, error) {
	l.add("", string(p))
	return len(p), nil
}

func (l *forwardLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "; ")
}
