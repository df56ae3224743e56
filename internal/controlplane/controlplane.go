// Package controlplane starts a real kube-apiserver and etcd (controller-runtime envtest)
// with Scrutin's CRDs and admission policies installed, for the tests of any package
// and for the local demo.
//
// The binaries come from bin/k8s/<version>/, built by hack/build-k8s.sh (make tools);
// KUBEBUILDER_ASSETS overrides the directory.
package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// KubeVersion is the Kubernetes version the project pins (Makefile KUBE_VERSION).
const KubeVersion = "v1.37.2"

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	Config      *rest.Config
	Client      client.Client
	Scheme      *runtime.Scheme
	Root        string // the module's root directory
}

// Scheme returns a scheme with the core types and Scrutin's API.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := scrutinv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := gatewayv1.Install(s); err != nil {
		panic(err)
	}
	if err := cmapi.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// RouteCRDs are the CRD files of the kinds the controller makes for routing, from
// the Go modules that ship them: the Gateway API's Gateway and HTTPRoute
// (config/crd/standard) and cert-manager's Certificate (deploy/crds). A running
// Gateway implementation or cert-manager is not part of them.
func RouteCRDs(root string) ([]string, error) {
	gw, err := ModuleDir(root, "sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, err
	}
	cm, err := ModuleDir(root, "github.com/cert-manager/cert-manager")
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(gw, "config", "crd", "standard", "gateway.networking.k8s.io_gateways.yaml"),
		filepath.Join(gw, "config", "crd", "standard", "gateway.networking.k8s.io_httproutes.yaml"),
		filepath.Join(cm, "deploy", "crds", "cert-manager.io_certificates.yaml"),
	}, nil
}

// ModuleDir is the directory of a required module in the module cache.
func ModuleDir(root, module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("while locating module %s (go mod download fetches it): %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache: run go mod download", module)
	}
	return dir, nil
}

// Root finds the module's root directory from the working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module scrutin.dev/scrutin\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root (go.mod of scrutin.dev/scrutin) not found above the working directory")
		}
		dir = parent
	}
}

// AssetsDir is where kube-apiserver, etcd and kubectl are.
func AssetsDir(root string) string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(root, "bin", "k8s", KubeVersion)
}

// Start starts the control plane and installs the CRDs of config/crd/bases, those
// of extraCRDs (files or directories, such as RouteCRDs) and the admission
// policies of config/admission. It fails, never skips, when the binaries are
// missing: run `make tools`.
func Start(extraCRDs ...string) (*Env, error) { return start(true, extraCRDs...) }

// StartEmpty starts a control plane with nothing of Scrutin in it (no CRD, no
// admission policy), for the tests of an installer that creates them itself (the
// Helm chart).
func StartEmpty() (*Env, error) { return start(false) }

func start(install bool, extraCRDs ...string) (*Env, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	assets := AssetsDir(root)
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s: run `make tools` to build it: %w", bin, assets, err)
		}
	}
	scheme := Scheme()
	env := &envtest.Environment{BinaryAssetsDirectory: assets, Scheme: scheme}
	if install {
		env.CRDDirectoryPaths = append([]string{filepath.Join(root, "config", "crd", "bases")}, extraCRDs...)
		env.ErrorIfCRDPathMissing = true
	}
	// Room for thousands of election Services (envtest's default range holds 253).
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("while starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("while creating a client: %w", err)
	}
	e := &Env{Environment: env, Config: cfg, Client: c, Scheme: scheme, Root: root}
	if !install {
		return e, nil
	}
	if err := e.installAdmissionPolicies(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.Environment.Stop() }

// installAdmissionPolicies creates every object of config/admission/*.yaml. The API
// server enforces a policy shortly after (no status says when without a
// kube-controller-manager): tests of a policy retry until it refuses.
func (e *Env) installAdmissionPolicies() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	files, err := filepath.Glob(filepath.Join(e.Root, "config", "admission", "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := ReadObjects(f)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := e.Client.Create(ctx, o); err != nil {
				return fmt.Errorf("while creating %s %s from %s: %w", o.GetKind(), o.GetName(), f, err)
			}
		}
	}
	return nil
}

// ReadObjects decodes every document of a YAML file.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("while decoding %s: %w", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// Namespace creates a namespace with a unique name for one test.
func (e *Env) Namespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: strings.TrimSuffix(prefix, "-") + "-"}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	return ns.Name, nil
}

// AdminKubeconfig returns a kubeconfig of a cluster administrator, for kubectl and
// other clients outside this process.
func (e *Env) AdminKubeconfig() ([]byte, error) {
	u, err := e.Environment.AddUser(envtest.User{Name: "scrutin-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("while adding an admin user: %w", err)
	}
	return u.KubeConfig()
}

// WriteKubeconfig writes the administrator's kubeconfig to path (mode 0600).
func (e *Env) WriteKubeconfig(path string) error {
	data, err := e.AdminKubeconfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Kubectl runs the built kubectl against the control plane, returning its combined
// output.
func (e *Env) Kubectl(args ...string) (string, error) {
	k := e.Environment.ControlPlane.KubeCtl()
	k.Path = filepath.Join(AssetsDir(e.Root), "kubectl")
	stdout, stderr, err := k.Run(args...)
	var out bytes.Buffer
	if stdout != nil {
		_, _ = io.Copy(&out, stdout)
	}
	if stderr != nil {
		_, _ = io.Copy(&out, stderr)
	}
	return out.String(), err
}
