package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/specs"
)

// KwokVersion is the kwok that hack/build-kwok.sh builds (KWOK_VERSION there).
const KwokVersion = "v0.8.0"

// kwokNodeAnnotation marks the nodes kwok fakes (its own convention).
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// binaries are the programs the bench runs beside envtest's kube-apiserver and etcd.
type binaries struct {
	Kwok, ControllerManager, Scheduler string
	KwokModule                         string // kwok's module directory: its stage files
}

// findBinaries locates kwok (hack/build-kwok.sh) and kube-controller-manager and
// kube-scheduler (hack/build-k8s.sh), and says how to build whichever is missing.
func findBinaries(root string) (binaries, error) {
	assets := controlplane.AssetsDir(root)
	b := binaries{
		Kwok:              filepath.Join(root, "bin", "kwok-"+KwokVersion),
		ControllerManager: filepath.Join(assets, "kube-controller-manager"),
		Scheduler:         filepath.Join(assets, "kube-scheduler"),
	}
	if k := os.Getenv("KWOK"); k != "" {
		b.Kwok = k
	}
	for bin, hint := range map[string]string{
		b.Kwok:              "hack/build-kwok.sh",
		b.ControllerManager: "hack/build-k8s.sh kube-controller-manager kube-scheduler",
		b.Scheduler:         "hack/build-k8s.sh kube-controller-manager kube-scheduler",
	} {
		if _, err := os.Stat(bin); err != nil {
			return b, fmt.Errorf("%s is missing: build it with %s (or make bench-scale)", bin, hint)
		}
	}
	out, err := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/kwok@"+KwokVersion).Output()
	if err != nil {
		return b, fmt.Errorf("while locating kwok's module (its stage files): %w", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return b, fmt.Errorf("go mod download gave no directory for sigs.k8s.io/kwok@%s", KwokVersion)
	}
	b.KwokModule = mod.Dir
	return b, nil
}

// startProcess starts a helper of the control plane, its output to logPath; stop
// ends it.
func startProcess(logPath, bin string, args ...string) (stop func(), err error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("while starting %s: %w", bin, err)
	}
	return func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() }, nil
}

// startCluster starts, around the API server of kubeconfig, what makes pods of
// Deployments "run": kube-controller-manager (Deployments, ReplicaSets, the
// binding of PersistentVolumeClaims to PersistentVolumes, and the usage of
// ResourceQuotas, without which quota admission refuses pods), kube-scheduler, and kwok
// faking the nodes' kubelets with its "fast" stages (nodes Ready at once, pods
// Running and Ready as soon as they are bound).
func startCluster(b binaries, kubeconfig, logDir string) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	kwokArgs := []string{"--kubeconfig=" + kubeconfig,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--cidr=10.244.0.0/16", "--node-ip=10.0.0.1"}
	for _, f := range []string{"node/fast/node-initialize.yaml", "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"} {
		kwokArgs = append(kwokArgs, "--config="+filepath.Join(b.KwokModule, "kustomize", "stage", f))
	}
	for _, p := range []struct {
		name, bin string
		args      []string
	}{
		{"kube-controller-manager", b.ControllerManager, []string{"--kubeconfig=" + kubeconfig, "--leader-elect=false", "--secure-port=0",
			"--controllers=deployment-controller,replicaset-controller,persistentvolume-binder-controller,resourcequota-controller"}},
		{"kube-scheduler", b.Scheduler, []string{"--kubeconfig=" + kubeconfig, "--leader-elect=false", "--secure-port=0"}},
		{"kwok", b.Kwok, kwokArgs},
	} {
		s, err := startProcess(filepath.Join(logDir, "scale-"+p.name+".log"), p.bin, p.args...)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, s)
	}
	return stop, nil
}

// createNodes creates the fake nodes kwok manages, each with room for every pod.
func createNodes(ctx context.Context, c client.Client, n, podsPerNode int) error {
	for i := range n {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("kwok-node-%d", i),
			Annotations: map[string]string{kwokNodeAnnotation: "fake"},
			Labels:      map[string]string{"type": "kwok", corev1.LabelHostname: fmt.Sprintf("kwok-node-%d", i)},
		}}
		if err := c.Create(ctx, node); err != nil {
			return fmt.Errorf("while creating node %s: %w", node.Name, err)
		}
		// The API server taints a new node not-ready; the node lifecycle
		// controller, which would lift it, is not run (it would also want
		// heartbeats kwok's fast stages do not send).
		base := node.DeepCopy()
		node.Spec.Taints = nil
		if err := c.Patch(ctx, node, client.MergeFrom(base)); err != nil {
			return fmt.Errorf("while untainting node %s: %w", node.Name, err)
		}
		room := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10000"),
			corev1.ResourceMemory: resource.MustParse("100Ti"),
			corev1.ResourcePods:   *resource.NewQuantity(int64(podsPerNode), resource.DecimalSI),
		}
		base = node.DeepCopy()
		node.Status.Capacity, node.Status.Allocatable = room, room
		if err := c.Status().Patch(ctx, node, client.MergeFrom(base)); err != nil { // kwok writes the status too
			return fmt.Errorf("while sizing node %s: %w", node.Name, err)
		}
	}
	return nil
}

// createVolumes creates, up front, one PersistentVolume per Election for its
// embedded store's claim: nothing provisions volumes on kwok's nodes, and
// kube-controller-manager binds each claim to one of these.
func createVolumes(ctx context.Context, c client.Client, n int) error {
	for i := range n {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-pv-%05d", i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: specs.EmbeddedStoreSize},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: fmt.Sprintf("/var/lib/bench/pv-%05d", i)},
				},
			},
		}
		if err := c.Create(ctx, pv); err != nil {
			return fmt.Errorf("while creating %s: %w", pv.Name, err)
		}
	}
	return nil
}
