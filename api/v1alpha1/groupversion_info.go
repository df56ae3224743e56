// Package v1alpha1 holds the Election API of Scrutin, group elections.scrutin.dev.
//
// Validation lives beside the types, so the API server refuses a bad Election before
// the controller ever sees it: OpenAPI markers and CEL rules here, and the rules that
// need an object's status or a DELETE in the ValidatingAdmissionPolicies of
// config/admission.
//
// +kubebuilder:object:generate=true
// +groupName=elections.scrutin.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the Election API.
	GroupVersion = schema.GroupVersion{Group: "elections.scrutin.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the API's types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
