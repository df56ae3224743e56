//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/controlplane"
)

// helmRelease is what `helm status -o json` says of a release (a part of it).
type helmRelease struct {
	Name      string
	Namespace string
	Version   int
	Manifest  string
	Info      struct{ Status string }
}

// helmImage is an image in the chart's values.
type helmImage struct{ Repository, Tag, Digest string }

// ref is the reference the chart renders for it (a digest wins over the tag).
func (i helmImage) ref() string {
	if i.Digest != "" {
		return i.Repository + "@" + i.Digest
	}
	return i.Repository + ":" + i.Tag
}

// TestInstalledWithHelm: under make e2e-helm (SCRUTIN_E2E_INSTALL=helm), the manager
// the other tests drive is the chart's. The release scrutin is deployed in
// scrutin-system with the chart scrutin; helm's record of it (its Secret) is there;
// every object of its manifest is on the cluster, labelled and annotated as helm's,
// the manager's Deployment among them; and that Deployment runs the images and the
// flags of the release's values, which are the images hack/local-cluster.sh built
// (images.env).
func TestInstalledWithHelm(t *testing.T) {
	if os.Getenv("SCRUTIN_E2E_INSTALL") != "helm" {
		t.Skip("Scrutin is installed with kustomize (make e2e); make e2e-helm installs it with the chart")
	}
	var rel helmRelease
	if err := json.Unmarshal(runHelm(t, "status", "scrutin", "-n", managerNamespace, "-o", "json"), &rel); err != nil {
		t.Fatalf("helm status: %v", err)
	}
	if rel.Name != "scrutin" || rel.Namespace != managerNamespace || rel.Info.Status != "deployed" {
		t.Fatalf("helm status: release %q in %q, status %q: want scrutin in %s, deployed",
			rel.Name, rel.Namespace, rel.Info.Status, managerNamespace)
	}
	// the chart of the release (helm status leaves it out; helm list names it)
	var list []struct{ Name, Chart string }
	if err := json.Unmarshal(runHelm(t, "list", "-n", managerNamespace, "--filter", "^scrutin$", "-o", "json"), &list); err != nil {
		t.Fatalf("helm list: %v", err)
	}
	if len(list) != 1 || !strings.HasPrefix(list[0].Chart, "scrutin-") {
		t.Fatalf("helm list: %+v, want the release scrutin of the chart scrutin", list)
	}
	t.Logf("release scrutin revision %d of %s, %s", rel.Version, list[0].Chart, rel.Info.Status)

	// helm's own record of the release, by which it upgrades and uninstalls
	var records corev1.SecretList
	if err := k8s.List(t.Context(), &records, client.InNamespace(managerNamespace),
		client.MatchingLabels{"owner": "helm", "name": "scrutin", "status": "deployed"}); err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 1 {
		t.Errorf("%d Secrets of helm record the release scrutin as deployed, want 1", len(records.Items))
	}

	objs := manifestObjects(t, rel.Manifest)
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(o), live); err != nil {
			t.Errorf("%s %s of the release: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		if by := live.GetLabels()["app.kubernetes.io/managed-by"]; by != "Helm" {
			t.Errorf("%s %s is managed by %q, want Helm", o.GetKind(), o.GetName(), by)
		}
		a := live.GetAnnotations()
		if a["meta.helm.sh/release-name"] != "scrutin" || a["meta.helm.sh/release-namespace"] != managerNamespace {
			t.Errorf("%s %s: helm's annotations %q, %q; want scrutin, %s", o.GetKind(), o.GetName(),
				a["meta.helm.sh/release-name"], a["meta.helm.sh/release-namespace"], managerNamespace)
		}
	}
	if !slices.Contains(names, "Deployment "+managerNamespace+"/scrutin-manager") {
		t.Fatalf("the release's manifest has no Deployment %s/scrutin-manager: %v", managerNamespace, names)
	}
	t.Logf("%d objects of the release on the cluster", len(objs))

	var values struct {
		Image         helmImage
		RuntimeImage  helmImage
		NetworkPolicy struct{ ClientIPHeader string }
		Route         struct{ Gateway, GatewayListener string }
	}
	if err := json.Unmarshal(runHelm(t, "get", "values", "scrutin", "-n", managerNamespace, "-o", "json"), &values); err != nil {
		t.Fatalf("helm get values: %v", err)
	}
	d, err := kube.AppsV1().Deployments(managerNamespace).Get(t.Context(), "scrutin-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != values.Image.ref() {
		t.Errorf("the manager runs %s, the release's values give %s", c.Image, values.Image.ref())
	}
	if want := os.Getenv("MANAGER_IMAGE"); want != "" && c.Image != want {
		t.Errorf("the manager runs %s, images.env names %s", c.Image, want)
	}
	wantArgs := []string{"--runtime-image=" + values.RuntimeImage.ref(), "--runtime-client-ip-header=" + values.NetworkPolicy.ClientIPHeader}
	if values.Route.Gateway != "" {
		wantArgs = append(wantArgs, "--gateway="+values.Route.Gateway, "--gateway-listener="+values.Route.GatewayListener)
	}
	if want := os.Getenv("VOTING_RUNTIME_IMAGE"); want != "" {
		wantArgs = append(wantArgs, "--runtime-image="+want)
	}
	for _, a := range wantArgs {
		if !slices.Contains(c.Args, a) {
			t.Errorf("the manager's arguments lack %s: %v", a, c.Args)
		}
	}
}

// manifestObjects decodes a release's manifest.
func manifestObjects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the release's manifest: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	if len(out) == 0 {
		t.Fatal("the release's manifest is empty")
	}
	return out
}

// runHelm runs helm (bin/, hack/build-helm.sh: cached) on the local cluster, its
// caches and configuration in a temporary directory, and returns its standard output.
func runHelm(t *testing.T, args ...string) []byte {
	t.Helper()
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command(filepath.Join(root, "hack", "build-helm.sh"))
	build.Stderr = os.Stderr
	bin, err := build.Output()
	if err != nil {
		t.Fatalf("hack/build-helm.sh: %v", err)
	}
	home := t.TempDir()
	cmd := exec.Command(strings.TrimSpace(string(bin)), append(args, "--kubeconfig", kubeconfigFile)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}
