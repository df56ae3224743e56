package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"scrutin.dev/scrutin/internal/pgtest"
)

// TestResendIsForTheEditorNotTheViewer: with the roles of
// config/rbac/tenant_roles.yaml, `kubectl scrutin resend` is refused to a user
// bound to election-viewer (with election-hotline in the election's namespace,
// so that only the tenant role differs), naming the verb and the role, before
// anything reaches the runtime; a user bound to election-editor passes the
// check and goes on to the runtime.
func TestResendIsForTheEditorNotTheViewer(t *testing.T) {
	ctx := context.Background()
	if out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "rbac", "tenant_roles.yaml")); err != nil {
		t.Fatalf("installing the tenant roles: %v\n%s", err, out)
	}
	tenant, ns := provisioned(t, "a-control-token")
	bind := func(ns, name, user, role string) {
		t.Helper()
		if err := k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	const viewer, editor = "viewer@example.org", "editor@example.org"
	bind(tenant, "viewer", viewer, "election-viewer")
	bind(ns, "viewer-hotline", viewer, "election-hotline")
	bind(tenant, "editor", editor, "election-editor")
	bind(ns, "editor-hotline", editor, "election-hotline")
	runtimeURL := fmt.Sprintf("http://127.0.0.1:%d", pgtest.ClosedPort(t))

	resend := func(user string, ok func(result) bool) result {
		t.Helper()
		var r result
		// RBAC takes effect within moments; allow for it.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if r = kubectlScrutin(t, tenant, "resend", "board", "V-0001", "--runtime-url", runtimeURL, "--as", user); ok(r) {
				return r
			}
		}
		t.Errorf("%s: exit %d, %q", user, r.code, r.stderr)
		return r
	}
	r := resend(viewer, func(r result) bool {
		return r.code == 1 && strings.Contains(r.stderr, `you may not resend for election "board" in namespace `+tenant)
	})
	mustContain(t, "the viewer's refusal", r.stderr, `the verb "resend" on the Election`, "election-editor")
	mustNotContain(t, "the viewer's refusal", r.stderr, "cannot reach")

	r = resend(editor, func(r result) bool {
		return r.code == 1 && strings.Contains(r.stderr, "cannot reach the runtime at "+runtimeURL)
	})
	mustNotContain(t, "the editor", r.stderr, "you may not")
}
