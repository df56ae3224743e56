// Package controllers holds Scrutin's reconcile loop and the pure builders of the
// objects it keeps converged for each Election.
package controllers

// What the manager may do, and nothing more; controller-gen writes
// config/rbac/role.yaml from these markers (make manifests).
//
// +kubebuilder:rbac:groups=elections.scrutin.dev,resources=elections,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=elections.scrutin.dev,resources=elections/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=elections.scrutin.dev,resources=elections/finalizers,verbs=update
// +kubebuilder:rbac:groups=core,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
