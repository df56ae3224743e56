package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestLint: helm lint --strict passes, with the default values, with monitoring on,
// and with a route.
func TestLint(t *testing.T) {
	runHelm(t, "lint", "--strict", "charts/scrutin")
	runHelm(t, "lint", "--strict", "charts/scrutin", "--set", "monitoring.enabled=true")
	runHelm(t, "lint", "--strict", "charts/scrutin", "--set", "route.gateway=edge/voters",
		"--set", "route.gatewayListener=https", "--set", "route.certManagerIssuer=ClusterIssuer/letsencrypt")
}

// TestCopiedFilesMatchConfig: what the chart holds as copies (make chart-files, run
// by make manifests) is what config/ holds: the CRDs, the manager's ClusterRole that
// controller-gen writes, and the alerts.
func TestCopiedFilesMatchConfig(t *testing.T) {
	crds, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRD in config/crd/bases: %v", err)
	}
	copies, _ := filepath.Glob(filepath.Join(root, "charts", "scrutin", "crds", "*.yaml"))
	var names, copyNames []string
	for _, f := range crds {
		names = append(names, filepath.Base(f))
	}
	for _, f := range copies {
		copyNames = append(copyNames, filepath.Base(f))
	}
	if !slices.Equal(names, copyNames) {
		t.Errorf("charts/scrutin/crds holds %v, config/crd/bases %v: run make manifests", copyNames, names)
	}
	pairs := map[string]string{
		"config/rbac/role.yaml":              "charts/scrutin/files/manager-role.yaml",
		"config/prometheus/base/alerts.yaml": "charts/scrutin/files/alerts.yaml",
	}
	for _, n := range names {
		pairs["config/crd/bases/"+n] = "charts/scrutin/crds/" + n
	}
	for src, dst := range pairs {
		a, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Errorf("%s: %v (run make manifests)", dst, err)
			continue
		}
		if string(a) != string(b) {
			t.Errorf("%s differs from %s: run make manifests (or make chart-files) and commit", dst, src)
		}
	}
}

// TestDefaultsMatchKustomize: helm template with the default values gives the objects
// of kubectl kustomize config/default, each equal field for field (RBAC rules, the
// manager's Deployment and arguments, the admission policies' expressions, the CRDs),
// with two differences on purpose: the Namespace is helm's (--create-namespace), and
// the chart always passes --runtime-image, whose default value is the manager's own.
func TestDefaultsMatchKustomize(t *testing.T) {
	want := byKey(t, kustomize(t, "config/default"))
	ns, ok := want["Namespace /scrutin-system"]
	if !ok {
		t.Fatalf("config/default has no Namespace scrutin-system: %v", keys(want))
	}
	if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("config/default's namespace is not restricted: docs/sre-guide.md tells Helm users to label theirs so")
	}
	delete(want, "Namespace /scrutin-system")

	got := byKey(t, render(t))
	runtimeFlag := "--runtime-image=" + runtimeImageDefault(t)
	args := managerArgs(t, got, "scrutin-manager")
	if !slices.Contains(args, runtimeFlag) {
		t.Errorf("manager arguments %q: want %s, the manager's own default", args, runtimeFlag)
	}
	setManagerArgs(t, got["Deployment scrutin-system/scrutin-manager"], slices.DeleteFunc(args, func(a string) bool { return a == runtimeFlag }))
	compare(t, want, got)
}

// TestMonitoringMatchesKustomize: monitoring.enabled adds exactly the objects of
// kubectl kustomize config/prometheus, each equal field for field.
func TestMonitoringMatchesKustomize(t *testing.T) {
	base := byKey(t, render(t))
	added := byKey(t, render(t, "--set", "monitoring.enabled=true"))
	for k := range base {
		if _, ok := added[k]; !ok {
			t.Errorf("%s: gone with monitoring on", k)
		}
		delete(added, k)
	}
	compare(t, byKey(t, kustomize(t, "config/prometheus")), added)
}

func setManagerArgs(t *testing.T, d *unstructured.Unstructured, args []string) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	list := make([]any, len(args))
	for i, a := range args {
		list[i] = a
	}
	containers[0].(map[string]any)["args"] = list
	if err := unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
}

// TestTemplateFlagsDefined: every flag the manager's template can write is one that
// main.go defines (the manager exits on an unknown flag).
func TestTemplateFlagsDefined(t *testing.T) {
	tpl, err := os.ReadFile(filepath.Join(root, "charts", "scrutin", "templates", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^\s*- --([a-z0-9-]+)`).FindAllSubmatch(tpl, -1)
	if len(flags) < 10 {
		t.Fatalf("found %d flags in templates/manager.yaml: the pattern no longer matches it", len(flags))
	}
	for _, f := range flags {
		if !strings.Contains(string(src), `"`+string(f[1])+`", `) {
			t.Errorf("templates/manager.yaml writes --%s, which main.go does not define", f[1])
		}
	}
}

// TestValues: each value changes what it should.
func TestValues(t *testing.T) {
	container := func(t *testing.T, objs map[string]*unstructured.Unstructured, key string) map[string]any {
		t.Helper()
		d, ok := objs[key]
		if !ok {
			t.Fatalf("no %s among %v", key, keys(objs))
		}
		cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		return cs[0].(map[string]any)
	}
	hasArgs := func(t *testing.T, objs map[string]*unstructured.Unstructured, want ...string) {
		t.Helper()
		args := managerArgs(t, objs, "scrutin-manager")
		for _, w := range want {
			if !slices.Contains(args, w) {
				t.Errorf("manager arguments %q: want %s", args, w)
			}
		}
	}
	// lacksFlags: no argument sets any of these flags.
	lacksFlags := func(t *testing.T, objs map[string]*unstructured.Unstructured, flags ...string) {
		t.Helper()
		for _, a := range managerArgs(t, objs, "scrutin-manager") {
			name, _, _ := strings.Cut(a, "=")
			if slices.Contains(flags, name) {
				t.Errorf("manager argument %s, want none of %v", a, flags)
			}
		}
	}
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := map[string]struct {
		release, namespace string
		set                []string
		check              func(t *testing.T, objs map[string]*unstructured.Unstructured)
	}{
		"images by tag": {
			set: []string{"image.repository=registry.example/scrutin/manager", "image.tag=1.4.0",
				"runtimeImage.repository=registry.example/scrutin/voting-runtime", "runtimeImage.tag=1.4.0"},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				if got := container(t, objs, "Deployment scrutin-system/scrutin-manager")["image"]; got != "registry.example/scrutin/manager:1.4.0" {
					t.Errorf("manager image %v", got)
				}
				hasArgs(t, objs, "--runtime-image=registry.example/scrutin/voting-runtime:1.4.0")
			},
		},
		"images by digest": {
			set: []string{"image.digest=" + digest, "image.tag=ignored", "runtimeImage.digest=" + digest},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				if got := container(t, objs, "Deployment scrutin-system/scrutin-manager")["image"]; got != "scrutin.dev/manager@"+digest {
					t.Errorf("manager image %v", got)
				}
				hasArgs(t, objs, "--runtime-image=scrutin.dev/voting-runtime@"+digest)
			},
		},
		"network policies and ingress": {
			set: []string{
				`networkPolicy.ingressNamespaceLabels.kubernetes\.io/metadata\.name=ingress-nginx`,
				"networkPolicy.ingressNamespaceLabels.team=edge",
				"networkPolicy.clientIPHeader=X-Forwarded-For",
				"networkPolicy.clientIPTrustedProxies={10.0.0.0/8,192.0.2.1}",
				`networkPolicy.prometheusNamespaceLabels.kubernetes\.io/metadata\.name=monitoring`,
				`networkPolicy.prometheusPodLabels.app\.kubernetes\.io/name=prometheus`,
				"networkPolicy.dnsNamespace=dns",
				"networkPolicy.dnsPodLabels.app=coredns",
			},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				hasArgs(t, objs,
					"--ingress-namespace-labels=kubernetes.io/metadata.name=ingress-nginx,team=edge",
					"--runtime-client-ip-header=X-Forwarded-For",
					"--runtime-client-ip-trusted-proxies=10.0.0.0/8,192.0.2.1",
					"--prometheus-namespace-labels=kubernetes.io/metadata.name=monitoring",
					"--prometheus-pod-labels=app.kubernetes.io/name=prometheus",
					"--dns-namespace=dns",
					"--dns-pod-labels=app=coredns")
			},
		},
		"manager flags and resources": {
			set: []string{"manager.baseDomain=vote.example.org", "manager.maxConcurrentReconciles=8",
				"manager.extraArgs[0]=--zap-log-level=debug", "manager.resources.limits.memory=1Gi", "manager.replicas=2"},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				hasArgs(t, objs, "--base-domain=vote.example.org", "--max-concurrent-reconciles=8", "--zap-log-level=debug", "--leader-elect")
				c := container(t, objs, "Deployment scrutin-system/scrutin-manager")
				if got, _, _ := unstructured.NestedString(c, "resources", "limits", "memory"); got != "1Gi" {
					t.Errorf("memory limit %q, want 1Gi", got)
				}
				if got, _, _ := unstructured.NestedFieldNoCopy(objs["Deployment scrutin-system/scrutin-manager"].Object, "spec", "replicas"); fmt.Sprint(got) != "2" {
					t.Errorf("replicas %v, want 2", got)
				}
			},
		},
		"route through a Gateway of another namespace": {
			set: []string{"route.gateway=voters", "route.gatewayNamespace=edge", "route.gatewayListener=https",
				"route.certManagerIssuer=ClusterIssuer/letsencrypt", "manager.baseDomain=vote.example.org"},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				hasArgs(t, objs, "--gateway=voters", "--gateway-namespace=edge", "--gateway-listener=https",
					"--cert-manager-issuer=ClusterIssuer/letsencrypt", "--base-domain=vote.example.org")
				lacksFlags(t, objs, "--ingress-class")
			},
		},
		"route through a Gateway named with its namespace": {
			set: []string{"route.gateway=edge/voters"},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				hasArgs(t, objs, "--gateway=edge/voters")
				lacksFlags(t, objs, "--gateway-namespace", "--gateway-listener", "--ingress-class", "--cert-manager-issuer")
			},
		},
		"route through an Ingress": {
			set: []string{"route.ingressClass=nginx", "route.certManagerIssuer=Issuer/ca",
				`networkPolicy.ingressNamespaceLabels.kubernetes\.io/metadata\.name=ingress-nginx`},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				hasArgs(t, objs, "--ingress-class=nginx", "--cert-manager-issuer=Issuer/ca",
					"--ingress-namespace-labels=kubernetes.io/metadata.name=ingress-nginx")
				lacksFlags(t, objs, "--gateway", "--gateway-namespace", "--gateway-listener")
			},
		},
		"another release in another namespace": {
			release: "votes", namespace: "ops",
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				for k, o := range objs {
					if o.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(o.GetName(), "votes-scrutin-") {
						t.Errorf("%s: not named votes-scrutin-*", k)
					}
					if o.GetNamespace() != "" && o.GetNamespace() != "ops" {
						t.Errorf("%s: not in the release's namespace", k)
					}
				}
				// The admission policies know the manager by its user name: it moves with
				// the release.
				const user = "'system:serviceaccount:ops:votes-scrutin-manager'"
				for _, p := range []string{"votes-scrutin-manager-scope", "votes-scrutin-election-namespace-labels"} {
					conds, _, _ := unstructured.NestedSlice(objs["ValidatingAdmissionPolicy /"+p].Object, "spec", "matchConditions")
					if len(conds) != 1 || !strings.Contains(conds[0].(map[string]any)["expression"].(string), user) {
						t.Errorf("%s: match conditions %v do not name %s", p, conds, user)
					}
				}
				for k, o := range objs {
					if o.GetKind() == "ValidatingAdmissionPolicyBinding" {
						name, _, _ := unstructured.NestedString(o.Object, "spec", "policyName")
						if _, ok := objs["ValidatingAdmissionPolicy /"+name]; !ok {
							t.Errorf("%s names policy %q, not rendered", k, name)
						}
					}
					if o.GetKind() == "ClusterRoleBinding" || o.GetKind() == "RoleBinding" {
						subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
						s := subjects[0].(map[string]any)
						if s["name"] != "votes-scrutin-manager" || s["namespace"] != "ops" {
							t.Errorf("%s binds %v", k, s)
						}
					}
				}
				d, ok := objs["Deployment ops/votes-scrutin-manager"]
				if !ok {
					t.Fatalf("no manager Deployment among %v", keys(objs))
				}
				if sa, _, _ := unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName"); sa != "votes-scrutin-manager" {
					t.Errorf("the manager runs as %q, want votes-scrutin-manager", sa)
				}
			},
		},
		"monitoring for kube-prometheus-stack": {
			set: []string{"monitoring.enabled=true", "monitoring.labels.release=kps",
				"monitoring.prometheusServiceAccount.name=kps-kube-prometheus-prometheus",
				"monitoring.prometheusServiceAccount.namespace=observability"},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				for _, k := range []string{"ServiceMonitor scrutin-system/scrutin-manager", "PodMonitor scrutin-system/scrutin-voting-runtime", "PrometheusRule scrutin-system/scrutin-alerts"} {
					o, ok := objs[k]
					if !ok {
						t.Errorf("%s not rendered", k)
						continue
					}
					if o.GetLabels()["release"] != "kps" {
						t.Errorf("%s: labels %v, want release=kps", k, o.GetLabels())
					}
				}
				for _, k := range []string{"ClusterRoleBinding /scrutin-prometheus-metrics-reader", "ClusterRoleBinding /scrutin-prometheus-discovery"} {
					subjects, _, _ := unstructured.NestedSlice(objs[k].Object, "subjects")
					if s := subjects[0].(map[string]any); s["name"] != "kps-kube-prometheus-prometheus" || s["namespace"] != "observability" {
						t.Errorf("%s binds %v", k, s)
					}
				}
			},
		},
		"monitoring without the alerts": {
			set: []string{"monitoring.enabled=true", "monitoring.prometheusRule.enabled=false"},
			check: func(t *testing.T, objs map[string]*unstructured.Unstructured) {
				if _, ok := objs["PrometheusRule scrutin-system/scrutin-alerts"]; ok {
					t.Error("PrometheusRule rendered")
				}
				if _, ok := objs["ServiceMonitor scrutin-system/scrutin-manager"]; !ok {
					t.Error("ServiceMonitor not rendered")
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			release, namespace := tc.release, tc.namespace
			if release == "" {
				release, namespace = "scrutin", "scrutin-system"
			}
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			tc.check(t, byKey(t, template(t, release, namespace, args...)))
		})
	}
}

// TestRouteValuesRefused: route values the manager would refuse (it exits at start) or
// silently ignore make helm fail, naming the values.
func TestRouteValuesRefused(t *testing.T) {
	tests := map[string]struct {
		set  []string
		want string
	}{
		"a Gateway and an ingress class": {
			set:  []string{"route.gateway=edge/voters", "route.ingressClass=nginx"},
			want: "route.gateway and route.ingressClass exclude each other",
		},
		"a listener without a Gateway": {
			set:  []string{"route.gatewayListener=https"},
			want: "route.gatewayNamespace and route.gatewayListener need route.gateway",
		},
		"a Gateway namespace without a Gateway": {
			set:  []string{"route.gatewayNamespace=edge", "route.ingressClass=nginx"},
			want: "route.gatewayNamespace and route.gatewayListener need route.gateway",
		},
		"an issuer without a route": {
			set:  []string{"route.certManagerIssuer=ClusterIssuer/letsencrypt"},
			want: "route.certManagerIssuer needs route.gateway or route.ingressClass",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "scrutin", "charts/scrutin", "-n", "scrutin-system"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			if stderr := helmFails(t, args...); !strings.Contains(stderr, tc.want) {
				t.Errorf("helm template --set %v: %q, want an error saying %q", tc.set, stderr, tc.want)
			}
		})
	}
}
