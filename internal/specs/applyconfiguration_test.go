package specs_test

import (
	"encoding/json"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

const digestKey = "test.scrutin.dev/applied"

// Every object the controller applies converts to the typed apply configuration of
// its kind, which sets exactly what the builder set: the object's JSON without its
// status and creation timestamps (which are never applied), and the digest.
func TestApplyConfigurationKeepsEveryField(t *testing.T) {
	for name, tc := range map[string]struct {
		opts  specs.RouteOptions
		kinds []string
	}{
		"a Gateway and cert-manager": {specs.RouteOptions{Gateway: specs.GatewayRef{Namespace: "edge", Name: "voters", SectionName: "https"},
			CertIssuer: specs.IssuerRef{Kind: "ClusterIssuer", Name: "ca"}}, []string{"HTTPRoute", "Certificate"}},
		"an Ingress class": {specs.RouteOptions{IngressClass: "traefik"}, []string{"Ingress"}},
	} {
		t.Run(name, func(t *testing.T) {
			in := specstest.Inputs(specstest.Election("tenant", "board", "uid-1"))
			in.Options.BaseDomain, in.Options.Route = "vote.example", tc.opts
			in.Host = "board.tenant.vote.example"
			objs, err := specs.DesiredObjects(in)
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, specs.Namespace(in), specs.ScrutineerSecret(in, "https://board.tenant.vote.example/"))
			kinds := map[string]bool{}
			for _, o := range objs {
				kind := o.GetObjectKind().GroupVersionKind().Kind
				kinds[kind] = true
				ac, returned, err := specs.ApplyConfiguration(o, digestKey)
				if err != nil {
					t.Fatalf("%s %s: %v", kind, o.GetName(), err)
				}
				if got := reflect.TypeOf(ac).Elem().PkgPath(); got == reflect.TypeOf(o).Elem().PkgPath() {
					t.Errorf("%s: %T is not an apply configuration", kind, ac)
				}
				got := jsonMap(t, ac)
				digest, _ := got["metadata"].(map[string]any)["annotations"].(map[string]any)[digestKey].(string)
				if len(digest) != 64 || digest != returned {
					t.Errorf("%s %s: digest %q, returned %q", kind, o.GetName(), digest, returned)
				}
				delete(got["metadata"].(map[string]any)["annotations"].(map[string]any), digestKey)
				if len(got["metadata"].(map[string]any)["annotations"].(map[string]any)) == 0 {
					delete(got["metadata"].(map[string]any), "annotations")
				}
				want := jsonMap(t, o)
				delete(want, "status")
				dropNulls(want)
				if !reflect.DeepEqual(got, want) {
					a, _ := json.Marshal(got)
					b, _ := json.Marshal(want)
					t.Errorf("%s %s applies\n%s\nwhile the builder made\n%s", kind, o.GetName(), a, b)
				}
			}
			for _, k := range append(tc.kinds, "Namespace", "Deployment", "Secret", "PersistentVolumeClaim", "NetworkPolicy") {
				if !kinds[k] {
					t.Errorf("no %s among the objects", k)
				}
			}
		})
	}
}

// The digest is the object's as applied: what the API server never keeps from an
// apply (a status, a creation timestamp) and an old digest do not change it; any
// field that is applied does.
func TestApplyConfigurationDigest(t *testing.T) {
	in := specstest.Inputs(specstest.Election("tenant", "board", "uid-1"))
	digest := func(o client.Object) string {
		ac, _, err := specs.ApplyConfiguration(o, digestKey)
		if err != nil {
			t.Fatal(err)
		}
		return jsonMap(t, ac)["metadata"].(map[string]any)["annotations"].(map[string]any)[digestKey].(string)
	}
	base := digest(specs.Deployment(in, "hash"))
	d := specs.Deployment(in, "hash")
	d.Status.Replicas, d.CreationTimestamp = 3, metav1.Now()
	d.Spec.Template.CreationTimestamp = metav1.Now()
	d.Annotations = map[string]string{digestKey: "old"}
	if digest(d) != base {
		t.Error("a status, creation timestamps or an old digest changed the digest")
	}
	if digest(specs.Deployment(in, "other")) == base {
		t.Error("another config hash kept the digest")
	}
	if _, _, err := specs.ApplyConfiguration(&metav1.PartialObjectMetadata{}, digestKey); err == nil {
		t.Error("a kind the controller does not apply was converted")
	}
}

func jsonMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// dropNulls removes the null values of a decoded JSON object, at any depth: the
// unset timestamps typed objects write out as null.
func dropNulls(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			dropNulls(e)
		}
	case []any:
		for _, e := range x {
			dropNulls(e)
		}
	}
}

var _ runtime.ApplyConfiguration = specs.Applied(nil)
