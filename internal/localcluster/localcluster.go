// Package localcluster holds what the demo (hack/demo) and the end-to-end tests
// (test/e2e) both do on the local single-node cluster of hack/local-cluster.sh:
// reaching voters' hosts through the cluster's Gateway (gateway.go), and cancelling
// a tenant's Elections before its namespace is deleted.
package localcluster

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// ProbePod is a pod, in namespace, running the image built from test/e2e/probe
// with args (tcp or get), as restricted Pod Security asks.
func ProbePod(namespace, name, image string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(65532)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "probe", Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

// CancelElections annotates every Election in namespace as cancelled, which the
// admission policy asks of an Open one before it is deleted (config/admission).
func CancelElections(ctx context.Context, c client.Client, namespace string) error {
	var list scrutinv1.ElectionList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("while listing the Elections of %s: %w", namespace, err)
	}
	var errs []error
	for i := range list.Items {
		e := &list.Items[i]
		patch := client.MergeFrom(e.DeepCopy())
		if e.Annotations == nil {
			e.Annotations = map[string]string{}
		}
		e.Annotations[scrutinv1.CancelledAnnotation] = "true"
		if err := c.Patch(ctx, e, patch); err != nil {
			errs = append(errs, fmt.Errorf("while cancelling Election %s/%s: %w", namespace, e.Name, err))
		}
	}
	return errors.Join(errs...)
}
