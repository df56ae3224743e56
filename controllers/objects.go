package controllers

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DesiredObjects are every object of an election's namespace (the namespace itself
// aside), in the order they are applied: isolation and limits first, the workload
// last.
func DesiredObjects(in *Inputs) ([]client.Object, error) {
	cm, err := buildConfigMap(in)
	if err != nil {
		return nil, err
	}
	objs := []client.Object{buildServiceAccount(in)}
	for _, np := range buildNetworkPolicies(in) {
		objs = append(objs, np)
	}
	objs = append(objs, buildResourceQuota(in), buildLimitRange(in))
	for _, s := range buildSecrets(in) {
		objs = append(objs, s)
	}
	objs = append(objs, cm)
	if pvc := buildPVC(in); pvc != nil {
		objs = append(objs, pvc)
	}
	objs = append(objs,
		buildService(in),
		buildDeployment(in, in.configHash(cm.Data)),
		buildHPA(in),
		buildPDB(in),
	)
	return objs, nil
}
