package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		if len(m.Annotations) != len(tc.wantAnnotations) || m.Annotations[AppliedSHA256Annotation] != tc.wantAnnotations[AppliedSHA256Annotation] {
			t.Errorf("%s: annotations %v, want %v", name, m.Annotations, tc.wantAnnotations)
		}
		if len(m.ManagedFields) != 1 || m.ManagedFields[0].Manager != FieldOwner || m.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("%s: managedFields %+v, want the controller's apply entry alone", name, m.ManagedFields)
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
	if _, ok := d.Annotations[lastAppliedAnnotation]; ok || d.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Errorf("Deployment annotations %v: want kubectl's copy alone dropped", d.Annotations)
	}
	if len(d.ManagedFields) != 1 || d.Spec.Replicas == nil {
		t.Errorf("Deployment: managedFields %+v, replicas %v", d.ManagedFields, d.Spec.Replicas)
	}
}
