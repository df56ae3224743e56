package controllers

import (
	"bytes"
	"maps"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

func TestTrimCached(t *testing.T) {
	ours := metav1.ManagedFieldsEntry{Manager: FieldOwner, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}
	entries := func() []metav1.ManagedFieldsEntry {
		return []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}},
			ours,
			{Manager: FieldOwner, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status"},
		}
	}
	set := &fieldpath.Set{}
	if err := set.FromJSON(bytes.NewReader(ours.FieldsV1.Raw)); err != nil {
		t.Fatal(err)
	}
	oursDigest, err := ownedFieldsDigest("v1", set)
	if err != nil {
		t.Fatal(err)
	}
	secret := func(annotations map[string]string) *metav1.PartialObjectMetadata {
		m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: "s", Labels: map[string]string{"l": "v"}, Annotations: annotations, ManagedFields: entries()}}
		m.SetGroupVersionKind(secretGVK)
		return m
	}
	for name, tc := range map[string]struct {
		in              *metav1.PartialObjectMetadata
		wantAnnotations map[string]string
	}{
		"a tenant's Secret applied by kubectl": {
			in: secret(map[string]string{lastAppliedAnnotation: `{"data":{"roll.csv":"..."}}`, "scrutin.dev/roll-part": "1"}),
		},
		"the controller's own Secret": {
			in:              secret(map[string]string{AppliedSHA256Annotation: "abc", "other": "x"}),
			wantAnnotations: map[string]string{AppliedSHA256Annotation: "abc"},
		},
		"no annotation": {in: secret(nil)},
	} {
		out, err := trimCachedSecret(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := out.(*metav1.PartialObjectMetadata)
		if m.ManagedFields != nil || m.Annotations[ownedFieldsAnnotation] != oursDigest {
			t.Errorf("%s: managedFields %+v and %s, want the digest of the controller's apply entry alone", name, m.ManagedFields, m.Annotations)
		}
		delete(m.Annotations, ownedFieldsAnnotation)
		if len(m.Annotations) != len(tc.wantAnnotations) || m.Annotations[AppliedSHA256Annotation] != tc.wantAnnotations[AppliedSHA256Annotation] {
			t.Errorf("%s: annotations %v, want %v", name, m.Annotations, tc.wantAnnotations)
		}
		if m.Labels["l"] != "v" || m.Name != "s" {
			t.Errorf("%s: name or labels lost: %+v", name, m.ObjectMeta)
		}
	}

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", ManagedFields: entries(),
		Annotations: map[string]string{lastAppliedAnnotation: "{}", "deployment.kubernetes.io/revision": "2"}}}
	d.Spec.Replicas = new(int32)
	out, err := trimCached(d)
	if err != nil {
		t.Fatal(err)
	}
	d = out.(*appsv1.Deployment)
	if len(d.Annotations) != 1 || d.Annotations[ownedFieldsAnnotation] != oursDigest || d.ManagedFields != nil {
		t.Errorf("Deployment: annotations %v, managedFields %+v: want the digest of the controller's apply entry alone", d.Annotations, d.ManagedFields)
	}
}

// The cache keeps of every kind the controller applies its metadata (the apply
// skip and the watches read nothing else), of a Deployment its status as well
// (runtimeAvailable, setReady): no spec, no data, no other status. A kind added to managedKinds without its case in trimCached
// fails here.
func TestCacheKeepsWhatTheControllerReads(t *testing.T) {
	in := testInputs(testElection("t1", "vote", "u1"))
	in.Host = "vote.t1.example.org"
	in.Options.Route = specs.RouteOptions{Gateway: specs.GatewayRef{Namespace: "edge", Name: "voters"}, IngressClass: "nginx",
		CertIssuer: specs.IssuerRef{Kind: "ClusterIssuer", Name: "ca"}}
	cm, err := specs.ConfigMap(&in.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	ns, pvc := specs.Namespace(&in.Inputs), specs.PVC(&in.Inputs)
	ns.Status.Phase, pvc.Status.Phase = corev1.NamespaceActive, corev1.ClaimBound
	d := specs.Deployment(&in.Inputs, "hash")
	d.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}}
	objects := []client.Object{ns, specs.ServiceAccount(&in.Inputs), cm, specs.Service(&in.Inputs), specs.OpsService(&in.Inputs),
		pvc, specs.ResourceQuota(&in.Inputs), specs.LimitRange(&in.Inputs), d, specs.HPA(&in.Inputs), specs.PDB(&in.Inputs),
		specs.HTTPRoute(&in.Inputs), specs.Ingress(&in.Inputs), specs.Certificate(&in.Inputs)}
	for _, np := range specs.NetworkPolicies(&in.Inputs) {
		objects = append(objects, np)
	}
	covered := map[reflect.Type]bool{}
	for _, o := range objects {
		kind := reflect.TypeOf(o)
		covered[kind] = true
		_, record, err := appliedForm(o)
		if err != nil {
			t.Fatal(err)
		}
		o.SetAnnotations(map[string]string{AppliedSHA256Annotation: record})
		o.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldOwner, Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}})
		name, record := o.GetName(), o.GetAnnotations()[AppliedSHA256Annotation]
		labels := map[string]string{}
		for _, k := range electionMappingLabels {
			labels[k] = o.GetLabels()[k]
		}
		out, err := trimCached(o)
		if err != nil {
			t.Fatal(err)
		}
		o = out.(client.Object)
		if o.GetName() != name || !maps.Equal(o.GetLabels(), labels) || o.GetAnnotations()[AppliedSHA256Annotation] != record ||
			o.GetAnnotations()[ownedFieldsAnnotation] == "" || len(o.GetAnnotations()) != 2 || o.GetManagedFields() != nil {
			t.Errorf("%s: metadata not kept: %+v", kind, o)
		}
		v := reflect.ValueOf(o).Elem()
		for i := range v.NumField() {
			field := v.Type().Field(i).Name
			switch {
			case field == "TypeMeta" || field == "ObjectMeta":
			case field == "Status" && kind == reflect.TypeFor[*appsv1.Deployment]():
			case !v.Field(i).IsZero():
				t.Errorf("%s: %s kept in the cache: %+v", kind, field, v.Field(i).Interface())
			}
		}
		if d, ok := o.(*appsv1.Deployment); ok && (d.Status.AvailableReplicas != 2 || len(d.Status.Conditions) != 1) {
			t.Errorf("Deployment status not kept: %+v", d.Status)
		}
	}
	for o := range CacheOptions(in.Options.Route).ByObject {
		switch o.(type) {
		case *corev1.Secret, *scrutinv1.Election: // trimCachedSecret, trimCachedElection
		default:
			if !covered[reflect.TypeOf(o)] {
				t.Errorf("%T is cached and not tried here", o)
			}
		}
	}
}

// A cached Election keeps its spec and status (the watches, the host index and
// the metrics read them), not its managedFields.
func TestTrimCachedElection(t *testing.T) {
	e := testElection("t1", "vote", "u1")
	e.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}
	e.Annotations = map[string]string{lastAppliedAnnotation: "{}", "keep": "me"}
	e.Status.Phase = scrutinv1.PhaseScheduled
	out, err := trimCachedElection(e)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*scrutinv1.Election)
	if got.ManagedFields != nil || got.Annotations["keep"] != "me" || len(got.Annotations) != 1 ||
		got.Spec.Title != "Board" || got.Status.Phase != scrutinv1.PhaseScheduled {
		t.Errorf("trimmed Election: %+v", got)
	}
}
