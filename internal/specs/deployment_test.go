package specs_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestDeployment(t *testing.T) {
	tests := map[string]struct {
		store        scrutinv1.StoreType
		strategy     appsv1.DeploymentStrategyType
		volume       string
		storeArgPref string
	}{
		"embedded":   {scrutinv1.StoreEmbedded, appsv1.RecreateDeploymentStrategyType, "data", "--store=embedded:"},
		"postgresql": {scrutinv1.StorePostgreSQL, appsv1.RollingUpdateDeploymentStrategyType, "database", "--store=postgres-file:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := specstest.Election("t", "v", "u")
			e.Spec.Store.Type = tc.store
			in := specstest.Inputs(e)
			if tc.store == scrutinv1.StorePostgreSQL {
				in.Database = &specs.DatabaseInfo{DSN: "postgres://r:p@192.0.2.5:5432/d"}
			}
			d := specs.Deployment(in, "hash")
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			if d.Spec.Replicas != nil {
				t.Error("replicas must be left to the HPA")
			}
			if d.Spec.Strategy.Type != tc.strategy {
				t.Errorf("strategy %s, want %s", d.Spec.Strategy.Type, tc.strategy)
			}
			if tc.strategy == appsv1.RollingUpdateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
				t.Error("a rollout must never take a pod away before its replacement is ready")
			}
			sc := c.SecurityContext
			if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
				!*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("security context is not restricted: pod %+v container %+v", pod.SecurityContext, sc)
			}
			if *pod.AutomountServiceAccountToken {
				t.Error("the runtime needs no API token")
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Error("requests and limits are required")
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Fatal("readiness and liveness probes are required")
			}
			if p := c.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port.String() != "ops" {
				t.Errorf("readiness probe %s on port %s; /readyz is served on the operations port alone", p.Path, p.Port.String())
			}
			if p := c.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port.String() != "http" {
				t.Errorf("liveness probe %s on port %s; want /healthz on the voters' port", p.Path, p.Port.String())
			}
			// the roll's import may take minutes: the startup probe gives it an
			// hour before liveness may restart the pod
			if sp := c.StartupProbe; sp == nil || sp.HTTPGet == nil || sp.HTTPGet.Path != "/readyz" || sp.HTTPGet.Port.String() != "ops" ||
				sp.PeriodSeconds != 5 || sp.FailureThreshold != 720 {
				t.Errorf("startup probe %+v; want /readyz on the operations port, every 5 s, 720 failures", sp)
			}
			if c.Resources.Limits.Memory().Cmp(resource.MustParse("512Mi")) < 0 {
				t.Errorf("memory limit %s; a 1,000,000-voter import needs 512Mi", c.Resources.Limits.Memory())
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if len(ports) != 2 || ports["http"] != specs.RuntimePort || ports["ops"] != specs.OpsPort ||
				!slices.Contains(c.Args, fmt.Sprintf("--listen=:%d", specs.RuntimePort)) || !slices.Contains(c.Args, fmt.Sprintf("--ops-listen=:%d", specs.OpsPort)) {
				t.Errorf("ports %v, args %v; want http %d and ops %d, served at --listen and --ops-listen", ports, c.Args, specs.RuntimePort, specs.OpsPort)
			}
			if c.Image != in.Options.RuntimeImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("image %s %s", c.Image, c.ImagePullPolicy)
			}
			var hasVolume, hasStoreArg bool
			for _, v := range pod.Volumes {
				hasVolume = hasVolume || v.Name == tc.volume
			}
			for _, a := range c.Args {
				hasStoreArg = hasStoreArg || strings.HasPrefix(a, tc.storeArgPref)
				if strings.Contains(a, "postgres://") {
					t.Errorf("a connection string is in the pod's arguments: %s", a)
				}
			}
			if !hasVolume || !hasStoreArg {
				t.Errorf("volume %s present=%v, store argument present=%v", tc.volume, hasVolume, hasStoreArg)
			}
		})
	}
}

// TestClientIPHeaderPassedOn: the ingress's client-address header, a manager
// option, reaches every runtime's arguments; without it, none is trusted.
func TestClientIPHeaderPassedOn(t *testing.T) {
	in := specstest.Inputs(specstest.Election("t", "v", "u"))
	has := func(d *appsv1.Deployment) bool {
		for _, a := range d.Spec.Template.Spec.Containers[0].Args {
			if strings.HasPrefix(a, "--client-ip-header") {
				return a == "--client-ip-header=X-Forwarded-For"
			}
		}
		return false
	}
	if has(specs.Deployment(in, "h")) {
		t.Fatal("a client address header trusted without the option")
	}
	in.Options.ClientIPHeader = "X-Forwarded-For"
	if !has(specs.Deployment(in, "h")) {
		t.Fatal("the option does not reach the runtime")
	}
	trusts := func(d *appsv1.Deployment) string {
		for _, a := range d.Spec.Template.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(a, "--client-ip-trusted-proxies="); ok {
				return v
			}
		}
		return ""
	}
	if got := trusts(specs.Deployment(in, "h")); got != "" {
		t.Fatalf("trusted proxies %q without the option", got)
	}
	in.Options.ClientIPTrustedProxies = "10.10.0.1/32"
	if got := trusts(specs.Deployment(in, "h")); got != "10.10.0.1/32" {
		t.Fatalf("trusted proxies %q, want 10.10.0.1/32", got)
	}
}

// TestProxiesMountedAndNamed: with the organiser's proxies, the runtime reads
// the election's copy (an empty directory until there is one) through
// --proxies; a change of the copy rolls the pods before the deadline; without
// spec.proxies, nothing of them is in the pod.
func TestProxiesMountedAndNamed(t *testing.T) {
	e := specstest.Election("t", "v", "u")
	in := specstest.Inputs(e)
	argOf := func(d *appsv1.Deployment) string {
		for _, a := range d.Spec.Template.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(a, "--proxies="); ok {
				return v
			}
		}
		return ""
	}
	volumeOf := func(d *appsv1.Deployment) *corev1.Volume {
		for i, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == "proxies" {
				return &d.Spec.Template.Spec.Volumes[i]
			}
		}
		return nil
	}
	if d := specs.Deployment(in, "h"); argOf(d) != "" || volumeOf(d) != nil {
		t.Fatal("proxies in the pod of an election without them")
	}
	e.Spec.Proxies = &scrutinv1.Proxies{MaxPerHolder: 2, SecretRef: &scrutinv1.SecretReference{Name: "tenant-proxies"}}
	d := specs.Deployment(in, "h")
	if v := volumeOf(d); argOf(d) != specs.ProxiesDir+"/proxies.csv" || v == nil || v.EmptyDir == nil {
		t.Fatalf("before the copy: --proxies=%q, volume %+v; want the file and an empty directory", argOf(d), v)
	}
	before := in.ConfigHash(nil)
	in.Proxies = &specs.ProxiesCopy{SHA256: "abc"}
	if v := volumeOf(specs.Deployment(in, "h")); v == nil || v.Secret == nil || v.Secret.SecretName != specs.ProxiesSecretName {
		t.Fatalf("the copy is not mounted: %+v", v)
	}
	if in.ConfigHash(nil) == before {
		t.Error("a new copy of the proxies does not roll the pods")
	}
}
