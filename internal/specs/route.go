package specs

import (
	"fmt"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// RouteOptions say how voters reach the elections. At most one of Gateway and
// IngressClass is set; neither: the controller makes no route.
type RouteOptions struct {
	// Gateway the elections' HTTPRoutes attach to (Name empty: none), and the
	// listener (SectionName) within it, or any listener that admits the route.
	Gateway GatewayRef
	// IngressClass of the elections' Ingresses, where the cluster has no Gateway
	// API. Their TLS certificate is the class's default one, or cert-manager's.
	IngressClass string
	// CertIssuer, when set, has cert-manager issue one Certificate per host in
	// the election's namespace; otherwise the Gateway's (or the ingress class's)
	// wildcard certificate serves the host.
	CertIssuer IssuerRef
}

// GatewayRef names a Gateway and optionally one of its listeners.
type GatewayRef struct{ Namespace, Name, SectionName string }

// IssuerRef names a cert-manager Issuer or ClusterIssuer.
type IssuerRef struct{ Kind, Name string }

// Enabled reports whether the controller makes a route per election.
func (o RouteOptions) Enabled() bool { return o.Gateway.Name != "" || o.IngressClass != "" }

// ParseGateway reads "namespace/name" or "name" (in defaultNamespace).
func ParseGateway(s, defaultNamespace, section string) (GatewayRef, error) {
	ns, name, found := strings.Cut(s, "/")
	if !found {
		ns, name = defaultNamespace, s
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return GatewayRef{}, fmt.Errorf("gateway name %q: %s", name, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return GatewayRef{}, fmt.Errorf("gateway namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	if section != "" {
		if errs := validation.IsDNS1123Subdomain(section); len(errs) > 0 {
			return GatewayRef{}, fmt.Errorf("gateway listener %q: %s", section, strings.Join(errs, "; "))
		}
	}
	return GatewayRef{Namespace: ns, Name: name, SectionName: section}, nil
}

// AdmitGatewayNamespace makes the voting pods' ingress policy admit the
// Gateway's own namespace, where most implementations run its proxies, when the
// platform named a Gateway and no ingress namespaces of its own.
func (o *Options) AdmitGatewayNamespace() {
	if o.Route.Gateway.Name != "" && len(o.IngressNamespaceLabels) == 0 {
		o.IngressNamespaceLabels = map[string]string{namespaceNameLabel: o.Route.Gateway.Namespace}
	}
}

// ParseIssuer reads "ClusterIssuer/name", "Issuer/name" or "name" (a
// ClusterIssuer: an Issuer would have to stand in every election's namespace).
func ParseIssuer(s string) (IssuerRef, error) {
	kind, name, found := strings.Cut(s, "/")
	if !found {
		kind, name = "ClusterIssuer", s
	}
	if kind != "ClusterIssuer" && kind != "Issuer" {
		return IssuerRef{}, fmt.Errorf("issuer kind %q is neither ClusterIssuer nor Issuer", kind)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return IssuerRef{}, fmt.Errorf("issuer name %q: %s", name, strings.Join(errs, "; "))
	}
	return IssuerRef{Kind: kind, Name: name}, nil
}

// ElectionHost is the host voters reach the election at: spec.hostname, or
// <election>.<namespace>.<baseDomain>; "" without either. The readable host
// must be a DNS name (each label at most 63 characters, 253 in all): when it
// would not be, a problem asks for spec.hostname and there is no host.
func ElectionHost(e *scrutinv1.Election, baseDomain string) (string, *Problem) {
	if e.Spec.Hostname != "" {
		return e.Spec.Hostname, nil
	}
	if baseDomain == "" {
		return "", nil
	}
	host := e.Name + "." + e.Namespace + "." + baseDomain
	if errs := validation.IsDNS1123Label(e.Name); len(errs) > 0 {
		return "", &Problem{scrutinv1.ReasonHostnameNeeded, fmt.Sprintf(
			"the election's name %q cannot be one label of its host %s (%s): set spec.hostname", e.Name, host, strings.Join(errs, "; "))}
	}
	if len(host) > validation.DNS1123SubdomainMaxLength {
		return "", &Problem{scrutinv1.ReasonHostnameNeeded, fmt.Sprintf(
			"the host %s would be %d characters long, more than DNS allows (%d): set spec.hostname",
			host, len(host), validation.DNS1123SubdomainMaxLength)}
	}
	return host, nil
}

// HostURL is the voter URL of a host.
func HostURL(host string) string { return "https://" + host + "/" }

// InClusterURL is the voter URL when the election has no host: its Service.
func InClusterURL(namespace string) string {
	return "http://" + RuntimeName + "." + namespace + ".svc/"
}

// RouteName names the election's HTTPRoute, Ingress and Certificate.
const RouteName = RuntimeName

// TLSSecretName is the Secret cert-manager writes the election's certificate to.
const TLSSecretName = RuntimeName + "-tls"

// Route is the election's route, by the platform's choice: an HTTPRoute
// attached to its Gateway, or an Ingress of its class; nil without a host or a
// choice. Its only backend is the voters' Service (port 80 to the runtime's
// voters' port): the operations port is never routed.
func Route(in *Inputs) []client.Object {
	if in.Host == "" {
		return nil
	}
	var out []client.Object
	switch o := in.Options.Route; {
	case o.Gateway.Name != "":
		out = append(out, HTTPRoute(in))
	case o.IngressClass != "":
		out = append(out, Ingress(in))
	default:
		return nil
	}
	if in.Options.Route.CertIssuer.Name != "" {
		out = append(out, Certificate(in))
	}
	return out
}

func HTTPRoute(in *Inputs) *gatewayv1.HTTPRoute {
	g := in.Options.Route.Gateway
	parent := gatewayv1.ParentReference{
		Group:     ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
		Kind:      ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace(g.Namespace)),
		Name:      gatewayv1.ObjectName(g.Name),
	}
	if g.SectionName != "" {
		parent.SectionName = ptr.To(gatewayv1.SectionName(g.SectionName))
	}
	return &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: objectMeta(in, RouteName),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parent}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(in.Host)},
			Rules: []gatewayv1.HTTPRouteRule{{
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{
						Group: ptr.To(gatewayv1.Group("")),
						Kind:  ptr.To(gatewayv1.Kind("Service")),
						Name:  gatewayv1.ObjectName(RuntimeName),
						Port:  ptr.To(gatewayv1.PortNumber(VoterServicePort)),
					},
				}}},
			}},
		},
	}
}

func Ingress(in *Inputs) *networkingv1.Ingress {
	tls := networkingv1.IngressTLS{Hosts: []string{in.Host}}
	if in.Options.Route.CertIssuer.Name != "" {
		tls.SecretName = TLSSecretName
	}
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: objectMeta(in, RouteName),
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To(in.Options.Route.IngressClass),
			TLS:              []networkingv1.IngressTLS{tls},
			Rules: []networkingv1.IngressRule{{
				Host: in.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: RuntimeName,
							Port: networkingv1.ServiceBackendPort{Number: VoterServicePort},
						}},
					}},
				}},
			}},
		},
	}
}

// CertificateGVK is cert-manager's Certificate.
var CertificateGVK = cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateKind)

// Certificate asks cert-manager for the host's certificate, in
// TLSSecretName.
func Certificate(in *Inputs) *cmapi.Certificate {
	issuer := in.Options.Route.CertIssuer
	return &cmapi.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind},
		ObjectMeta: objectMeta(in, RouteName),
		Spec: cmapi.CertificateSpec{
			SecretName: TLSSecretName,
			DNSNames:   []string{in.Host},
			IssuerRef:  cmmeta.IssuerReference{Group: cmapi.SchemeGroupVersion.Group, Kind: issuer.Kind, Name: issuer.Name},
		},
	}
}

// RouteKinds are the kinds of the routes the platform's options make, for
// pruning: nothing is listed of a kind the cluster may not have.
func RouteKinds(o RouteOptions) []schema.GroupVersionKind {
	var kinds []schema.GroupVersionKind
	switch {
	case o.Gateway.Name != "":
		kinds = append(kinds, gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute"))
	case o.IngressClass != "":
		kinds = append(kinds, networkingv1.SchemeGroupVersion.WithKind("Ingress"))
	default:
		return nil
	}
	if o.CertIssuer.Name != "" {
		kinds = append(kinds, CertificateGVK)
	}
	return kinds
}
