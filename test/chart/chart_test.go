// Package chart checks the Helm chart charts/scrutin: that it lints, that its default
// values give the objects of the kustomize install (config/default, the reference),
// field for field, so that the two installs cannot drift apart, that its values
// change what they should, and that a real kube-apiserver accepts what helm installs
// and helm uninstall removes it.
//
// helm comes from bin/, built by hack/build-helm.sh (cached; make tools builds it);
// kubectl, kube-apiserver and etcd from bin/k8s/<version> (make tools).
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"scrutin.dev/scrutin/internal/controlplane"
)

var (
	root string // the module's root directory
	helm string // the helm binary
)

func TestMain(m *testing.M) {
	var err error
	if root, err = controlplane.Root(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Cached: a second run costs nothing. The first builds helm from the module proxy.
	cmd := exec.Command(filepath.Join(root, "hack", "build-helm.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hack/build-helm.sh: %v\n", err)
		os.Exit(1)
	}
	helm = strings.TrimSpace(string(out))
	os.Exit(m.Run())
}

// helmCommand is helm with its caches and configuration in a temporary directory.
func helmCommand(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helm, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// runHelm runs helm and returns its standard output.
func runHelm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd, stderr := helmCommand(t, args...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// helmFails runs helm, which must exit with an error, and returns its standard error.
func helmFails(t *testing.T, args ...string) string {
	t.Helper()
	cmd, stderr := helmCommand(t, args...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("helm %s: %v, want an exit with an error\n%s", strings.Join(args, " "), err, out)
	}
	return stderr.String()
}

// render is `helm template` of the chart as the README installs it (release scrutin
// in scrutin-system), CRDs included, with more arguments (--set ...).
func render(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	return template(t, "scrutin", "scrutin-system", args...)
}

// template is `helm template` of the chart as RELEASE in NAMESPACE, CRDs included.
func template(t *testing.T, release, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	args = append([]string{"template", release, "charts/scrutin", "-n", namespace, "--include-crds"}, args...)
	return decode(t, runHelm(t, args...))
}

// kustomize is `kubectl kustomize DIR` with the project's kubectl.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	kubectl := filepath.Join(controlplane.AssetsDir(root), "kubectl")
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(root, dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s (make tools builds kubectl)", dir, err, stderr.String())
	}
	objs := decode(t, out)
	// kustomize's namespace transformer does not know that admission policies are
	// cluster-scoped and gives them a namespace, which the API server ignores.
	for _, o := range objs {
		if clusterScoped[o.GetKind()] {
			o.SetNamespace("")
		}
	}
	return objs
}

// clusterScoped holds the cluster-scoped kinds the installs hold.
var clusterScoped = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decoding YAML: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// key names an object: kind, namespace and name.
func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func byKey(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if _, dup := m[key(o)]; dup {
			t.Errorf("%s rendered twice", key(o))
		}
		m[key(o)] = o
	}
	return m
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// diffObject lists how got (the chart's) differs from want (kustomize's): every field
// must be equal, but got may carry more labels (Helm's own) beside all of want's.
func diffObject(want, got *unstructured.Unstructured) []string {
	var diffs []string
	gotLabels := got.GetLabels()
	for k, v := range want.GetLabels() {
		if gotLabels[k] != v {
			diffs = append(diffs, fmt.Sprintf("metadata.labels[%s]: %q, want %q", k, gotLabels[k], v))
		}
	}
	w, g := want.DeepCopy(), got.DeepCopy()
	unstructured.RemoveNestedField(w.Object, "metadata", "labels")
	unstructured.RemoveNestedField(g.Object, "metadata", "labels")
	return append(diffs, diffValues("", w.Object, g.Object)...)
}

// diffValues lists the paths at which two decoded YAML values differ.
func diffValues(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		var diffs []string
		for _, k := range keys(union(w, g)) {
			wv, win := w[k]
			gv, gin := g[k]
			switch {
			case !gin:
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing, want %v", path, k, wv))
			case !win:
				diffs = append(diffs, fmt.Sprintf("%s.%s: %v, want nothing", path, k, gv))
			default:
				diffs = append(diffs, diffValues(path+"."+k, wv, gv)...)
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, diffValues(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	}
	if w, ok := want.(string); ok && strings.Contains(w, "\n") {
		// kustomize writes the folded (>-) CEL expressions of config/admission back with
		// a blank line before each more-indented line, which adds newlines to the
		// string: the expression is the same.
		if g, ok := got.(string); ok && strings.Join(strings.Fields(w), " ") == strings.Join(strings.Fields(g), " ") {
			return nil
		}
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
	}
	return nil
}

func union(a, b map[string]any) map[string]any {
	u := map[string]any{}
	for k, v := range a {
		u[k] = v
	}
	for k, v := range b {
		u[k] = v
	}
	return u
}

// compare checks that the chart rendered exactly kustomize's objects, each equal to
// kustomize's (diffObject).
func compare(t *testing.T, want, got map[string]*unstructured.Unstructured) {
	t.Helper()
	for _, k := range keys(want) {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: in the kustomize install, not rendered by the chart", k)
			continue
		}
		for _, d := range diffObject(want[k], g) {
			t.Errorf("%s: %s", k, d)
		}
	}
	for _, k := range keys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: rendered by the chart, not in the kustomize install", k)
		}
	}
}

// managerArgs returns the manager container's arguments of a rendered Deployment.
func managerArgs(t *testing.T, objs map[string]*unstructured.Unstructured, name string) []string {
	t.Helper()
	d, ok := objs["Deployment scrutin-system/"+name]
	if !ok {
		t.Fatalf("no Deployment scrutin-system/%s among %v", name, keys(objs))
	}
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", name, len(containers))
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args
}

// runtimeImageDefault is the default of the manager's --runtime-image (main.go).
func runtimeImageDefault(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"runtime-image", "([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal(`main.go: no flag "runtime-image" with a default`)
	}
	return string(m[1])
}
