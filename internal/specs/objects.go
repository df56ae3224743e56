package specs

import (
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// DesiredObjects are every object of an election's namespace (the namespace itself
// aside), in the order they are applied: isolation and limits first, the workload
// last.
func DesiredObjects(in *Inputs) ([]client.Object, error) {
	cm, err := ConfigMap(in)
	if err != nil {
		return nil, err
	}
	objs := []client.Object{ServiceAccount(in)}
	for _, np := range NetworkPolicies(in) {
		objs = append(objs, np)
	}
	objs = append(objs, ResourceQuota(in), LimitRange(in))
	for _, s := range Secrets(in) {
		objs = append(objs, s)
	}
	objs = append(objs, cm)
	if pvc := PVC(in); pvc != nil {
		objs = append(objs, pvc)
	}
	runtimeCM, err := ConfigMap(forConfigHash(in))
	if err != nil {
		return nil, err
	}
	template := in.runtimeTemplate()
	record, err := RuntimeTemplateRecord(in, &template)
	if err != nil {
		return nil, err
	}
	d := Deployment(in, in.ConfigHash(runtimeCM.Data))
	if in.Retired {
		// past its retention: no pod, no autoscaler; the store stays
		d.Spec.Replicas = ptr.To(int32(0))
	}
	objs = append(objs,
		Service(in),
		OpsService(in),
		d,
		// right after the Deployment: provision records a template only once
		// the Deployment took it
		record,
	)
	if !in.Retired {
		objs = append(objs, HPA(in))
	}
	objs = append(objs, PDB(in))
	objs = append(objs, Route(in)...)
	return objs, nil
}

// forConfigHash is in with what the pods need no restart for cleared, for the
// pods' config hash:
//   - the election's autoscaler settings: the runtime reads none of them but its
//     in-flight bound, and announcing a peak or raising maxReplicas during the vote
//     must not roll every pod;
//   - spec.runtime: the runtime reads nothing of it (and the election file
//     leaves it out);
//   - the schedule and the generation (its version): the runtimes follow the
//     schedule recorded in their store, which the controller pushes through the
//     control API and each pod feeds from its re-read election file, so
//     `kubectl scrutin extend/close/open` reach running pods without a restart;
//   - spec.hostname: the runtime's public URL is its own argument.
func forConfigHash(in *Inputs) *Inputs {
	e := in.Election.DeepCopy()
	e.Spec.Scaling = scrutinv1.Scaling{MaxInFlightRequestsPerPod: e.Spec.Scaling.MaxInFlightRequestsPerPod}
	e.Spec.Schedule = scrutinv1.Schedule{}
	e.Spec.Runtime = nil
	// the host reaches the runtime as --public-url, which the controller keeps
	// unchanged while the election is open (publicURL)
	e.Spec.Hostname = ""
	e.Generation = 0
	c := *in
	c.Election = e
	return &c
}
