package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmac "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1ac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"
)

// Applied is an object as the controller server-side-applies it: a typed apply
// configuration generated for its kind (client-go's for Kubernetes' own kinds, the
// Gateway API's and cert-manager's for theirs), which sets exactly the fields the
// builder set, each pointer field nil where the builder left it unset.
type Applied interface {
	runtime.ApplyConfiguration
	GetName() *string
	GetNamespace() *string
	GetKind() *string
	GetAPIVersion() *string
}

// ApplyConfiguration is obj, as one of this package's builders made it, in the
// typed apply configuration of its kind, without what the controller never
// applies (a status, creation timestamps), and with, under the annotation
// digestKey, the hex SHA-256 of that apply configuration's JSON without that
// annotation: the same desired object always gives the same digest, so a live
// object that carries it was last applied as this one. A digestKey annotation
// already on obj is not part of the digest, which is returned as well.
func ApplyConfiguration(obj client.Object, digestKey string) (Applied, string, error) {
	_, digested := obj.GetAnnotations()[digestKey]
	if created := obj.GetCreationTimestamp(); digested || !created.IsZero() {
		obj = obj.DeepCopyObject().(client.Object)
		obj.SetCreationTimestamp(metav1.Time{})
		a := obj.GetAnnotations()
		delete(a, digestKey)
		if len(a) == 0 {
			a = nil
		}
		obj.SetAnnotations(a)
	}
	switch o := obj.(type) {
	case *corev1.Namespace:
		return typed(o, corev1ac.Namespace(o.Name), digestKey, func(a *corev1ac.NamespaceApplyConfiguration) { a.Status = nil })
	case *corev1.ServiceAccount:
		return typed(o, corev1ac.ServiceAccount(o.Name, o.Namespace), digestKey, nil)
	case *corev1.ConfigMap:
		return typed(o, corev1ac.ConfigMap(o.Name, o.Namespace), digestKey, nil)
	case *corev1.Secret:
		return typed(o, corev1ac.Secret(o.Name, o.Namespace), digestKey, nil)
	case *corev1.Service:
		return typed(o, corev1ac.Service(o.Name, o.Namespace), digestKey, func(a *corev1ac.ServiceApplyConfiguration) { a.Status = nil })
	case *corev1.PersistentVolumeClaim:
		return typed(o, corev1ac.PersistentVolumeClaim(o.Name, o.Namespace), digestKey,
			func(a *corev1ac.PersistentVolumeClaimApplyConfiguration) { a.Status = nil })
	case *corev1.ResourceQuota:
		return typed(o, corev1ac.ResourceQuota(o.Name, o.Namespace), digestKey,
			func(a *corev1ac.ResourceQuotaApplyConfiguration) { a.Status = nil })
	case *corev1.LimitRange:
		return typed(o, corev1ac.LimitRange(o.Name, o.Namespace), digestKey, nil)
	case *appsv1.Deployment:
		return typed(o, appsv1ac.Deployment(o.Name, o.Namespace), digestKey, func(a *appsv1ac.DeploymentApplyConfiguration) {
			a.Status = nil
			if a.Spec != nil && a.Spec.Template != nil && a.Spec.Template.ObjectMetaApplyConfiguration != nil {
				a.Spec.Template.CreationTimestamp = nil
			}
		})
	case *autoscalingv2.HorizontalPodAutoscaler:
		return typed(o, autoscalingv2ac.HorizontalPodAutoscaler(o.Name, o.Namespace), digestKey,
			func(a *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration) { a.Status = nil })
	case *policyv1.PodDisruptionBudget:
		return typed(o, policyv1ac.PodDisruptionBudget(o.Name, o.Namespace), digestKey,
			func(a *policyv1ac.PodDisruptionBudgetApplyConfiguration) { a.Status = nil })
	case *networkingv1.NetworkPolicy:
		return typed(o, networkingv1ac.NetworkPolicy(o.Name, o.Namespace), digestKey, nil)
	case *networkingv1.Ingress:
		return typed(o, networkingv1ac.Ingress(o.Name, o.Namespace), digestKey, func(a *networkingv1ac.IngressApplyConfiguration) { a.Status = nil })
	case *gatewayv1.HTTPRoute:
		return typed(o, gatewayv1ac.HTTPRoute(o.Name, o.Namespace), digestKey, func(a *gatewayv1ac.HTTPRouteApplyConfiguration) { a.Status = nil })
	case *cmapi.Certificate:
		return typed(o, cmac.Certificate(o.Name, o.Namespace), digestKey, func(a *cmac.CertificateApplyConfiguration) { a.Status = nil })
	}
	return nil, "", fmt.Errorf("no apply configuration for a %T", obj)
}

// typed fills ac, the apply configuration of obj's kind, from obj: what obj's JSON
// sets, ac sets (a field the builder left out, or null, stays nil). unapplied, when
// the kind has a status or a pod template, drops them and the template's creation
// timestamp.
func typed[T any, P interface {
	*T
	Applied
	WithAnnotations(map[string]string) *T
}](obj client.Object, ac P, digestKey string, unapplied func(P)) (Applied, string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, "", err
	}
	if err := json.Unmarshal(b, ac); err != nil {
		return nil, "", fmt.Errorf("while typing %T %s for its apply: %w", obj, obj.GetName(), err)
	}
	if unapplied != nil {
		unapplied(ac)
	}
	applied, err := json.Marshal(ac) // fields in their declared order, map keys sorted
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(applied)
	digest := hex.EncodeToString(sum[:])
	ac.WithAnnotations(map[string]string{digestKey: digest})
	return ac, digest, nil
}
