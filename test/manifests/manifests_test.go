// Package manifests checks that what users install is accepted by a real API server.
package manifests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = controlplane.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// TestInstallDefault applies config/default exactly as the README says.
func TestInstallDefault(t *testing.T) {
	out, err := env.Kubectl("apply", "-k", filepath.Join(env.Root, "config", "default"))
	if err != nil {
		t.Fatalf("kubectl apply -k config/default: %v\n%s", err, out)
	}
	ctx := context.Background()
	var d appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "scrutin-system", Name: "scrutin-manager"}, &d); err != nil {
		t.Fatalf("manager Deployment: %v", err)
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("the manager must run as non-root")
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("the manager container must have a read-only root filesystem and no privilege escalation")
	}
	if !strings.Contains(strings.Join(c.Args, " "), "--leader-elect") {
		t.Error("the manager must run with leader election")
	}
	var binding rbacv1.ClusterRoleBinding
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "scrutin-manager-rolebinding"}, &binding); err != nil {
		t.Fatalf("manager ClusterRoleBinding: %v", err)
	}
	if binding.RoleRef.Name != "scrutin-manager-role" || binding.Subjects[0].Namespace != "scrutin-system" {
		t.Errorf("binding points at %s / %s", binding.RoleRef.Name, binding.Subjects[0].Namespace)
	}
	for _, name := range []string{"scrutin-election-locked-once-open", "scrutin-election-delete-needs-cancel"} {
		var b admissionv1.ValidatingAdmissionPolicyBinding
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &b); err != nil {
			t.Fatalf("policy binding %s: %v", name, err)
		}
		if b.Spec.PolicyName != name {
			t.Errorf("binding %s points at policy %q", name, b.Spec.PolicyName)
		}
		var p admissionv1.ValidatingAdmissionPolicy
		if err := env.Client.Get(ctx, client.ObjectKey{Name: b.Spec.PolicyName}, &p); err != nil {
			t.Errorf("policy %s named by its binding: %v", b.Spec.PolicyName, err)
		}
	}
	// Applying again changes nothing: an upgrade with the same manifests restarts
	// nothing, and kubectl diff (exit 0: no difference) agrees.
	before := d.Generation
	if out, err := env.Kubectl("apply", "-k", filepath.Join(env.Root, "config", "default")); err != nil {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	if out, err := env.Kubectl("diff", "-k", filepath.Join(env.Root, "config", "default")); err != nil {
		t.Errorf("kubectl diff after apply shows differences: %v\n%s", err, out)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&d), &d); err != nil {
		t.Fatal(err)
	}
	if d.Generation != before {
		t.Errorf("re-applying the same manifests changed the manager Deployment (generation %d -> %d)", before, d.Generation)
	}
}
