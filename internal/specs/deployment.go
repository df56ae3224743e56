package specs

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
)

// The runtime's resources per pod; the quota of the namespace follows from them.
var (
	runtimeCPURequest    = resource.MustParse("100m")
	runtimeMemoryRequest = resource.MustParse("64Mi")
	runtimeCPULimit      = resource.MustParse("1")
	// The runtime streams the roll into its store, part by part: its memory does
	// not grow with the roll. 512Mi leaves room for a 1,000,000-voter import
	// beside the voters' traffic.
	runtimeMemoryLimit = resource.MustParse("512Mi")
)

// Where the runtime finds its settings in the pod.
const (
	configDir   = "/etc/scrutin/config"
	RollDir     = "/etc/scrutin/roll"
	KeysDir     = "/etc/scrutin/keys"
	deliveryDir = "/etc/scrutin/delivery"
	databaseDir = "/etc/scrutin/database"
	dataDir     = "/var/lib/scrutin"

	// ConfigHashAnnotation on the pod template rolls the pods when a setting they
	// read at start changes.
	ConfigHashAnnotation = "elections.scrutin.dev/config-hash"
	runtimeUID           = 65532
)

// Deployment runs the voting-runtime on the pod template decided for this
// reconcile (in.RuntimeTemplate: the manager's own, or the one applied before and
// held back, see election_runtime.go; the manager's own when unset), with the
// settings' hash that restarts the pods when a setting they read at start changes.
// Replicas are left to the HorizontalPodAutoscaler. Sessions are signed with the
// election's key and kept in its store, so any pod serves any voter and a rollout
// loses no session.
func Deployment(in *Inputs, ConfigHash string) *appsv1.Deployment {
	template := in.runtimeTemplate()
	if template.Annotations == nil {
		template.Annotations = map[string]string{}
	}
	template.Annotations[ConfigHashAnnotation] = ConfigHash
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if in.Election.Spec.Store.Type == scrutinv1.StorePostgreSQL {
		strategy = appsv1.DeploymentStrategy{
			Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromInt32(0)),
				MaxSurge:       ptr.To(intstr.FromInt32(1)),
			},
		}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(in, RuntimeName),
		Spec: appsv1.DeploymentSpec{
			Selector:             &metav1.LabelSelector{MatchLabels: runtimeSelector()},
			Strategy:             strategy,
			RevisionHistoryLimit: ptr.To(int32(3)),
			Template:             template,
		},
	}
}

// runtimeTemplate is a copy of the pod template decided for this reconcile, or the
// manager's own rendering when none was.
func (in *Inputs) runtimeTemplate() corev1.PodTemplateSpec {
	if in.RuntimeTemplate != nil {
		return *in.RuntimeTemplate.DeepCopy()
	}
	return PodTemplate(in)
}

// PodTemplate is the voting-runtime's pod template as this manager renders it,
// with its runtime image (in.Options.RuntimeImage), and without the settings' hash:
// everything a manager upgrade can change in the pods.
func PodTemplate(in *Inputs) corev1.PodTemplateSpec {
	e := in.Election
	store := contract.StoreSpec(contract.StoreEmbedded, dataDir+"/election.db")
	if e.Spec.Store.Type == scrutinv1.StorePostgreSQL {
		store = contract.StoreSpec(contract.StorePostgresFile, databaseDir+"/"+contract.KeyDSN)
	}
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName}}}},
		KeysVolume(in),
		rollVolume(in),
		secretVolume("delivery", DeliverySecretName, true),
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("64Mi"))}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: configDir, ReadOnly: true},
		{Name: "keys", MountPath: KeysDir, ReadOnly: true},
		{Name: "roll", MountPath: RollDir, ReadOnly: true},
		{Name: "delivery", MountPath: deliveryDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if e.Spec.Store.Type == scrutinv1.StorePostgreSQL {
		volumes = append(volumes, secretVolume("database", DatabaseSecretName, false))
		mounts = append(mounts, corev1.VolumeMount{Name: "database", MountPath: databaseDir, ReadOnly: true})
	} else {
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: DataVolumeName}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: dataDir})
	}
	probe := func(port, path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(port)}},
			PeriodSeconds: period, TimeoutSeconds: 2, FailureThreshold: failures,
		}
	}
	labels := runtimeLabels(e)
	args := []string{
		contract.Arg(contract.FlagElection, configDir+"/"+ElectionFileKey),
		contract.Arg(contract.FlagRoll, RollDir),
		contract.Arg(contract.FlagKeysDir, KeysDir),
		contract.Arg(contract.FlagDeliveryDir, deliveryDir),
		contract.Arg(contract.FlagStore, store),
		contract.Arg(contract.FlagListen, fmt.Sprintf(":%d", RuntimePort)),
		contract.Arg(contract.FlagOpsListen, fmt.Sprintf(":%d", OpsPort)),
	}
	if e.Spec.ExternalCredentials() {
		volumes = append(volumes, credentialsVolume(in))
		mounts = append(mounts, corev1.VolumeMount{Name: "credentials", MountPath: CredentialsDir, ReadOnly: true})
		args = append(args, contract.Arg(contract.FlagCredentialsDir, CredentialsDir))
	}
	if e.Spec.Proxies != nil && e.Spec.Proxies.SecretRef != nil {
		volumes = append(volumes, proxiesVolume(in))
		mounts = append(mounts, corev1.VolumeMount{Name: "proxies", MountPath: ProxiesDir, ReadOnly: true})
		args = append(args, contract.Arg(contract.FlagProxies, proxiesFile))
	}
	if in.PublicURL != "" {
		args = append(args, contract.Arg(contract.FlagPublicURL, in.PublicURL))
	}
	if in.Options.ClientIPHeader != "" {
		args = append(args, contract.Arg(contract.FlagClientIPHeader, in.Options.ClientIPHeader))
		if in.Options.ClientIPTrustedProxies != "" {
			args = append(args, contract.Arg(contract.FlagClientIPTrustedProxies, in.Options.ClientIPTrustedProxies))
		}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			ServiceAccountName:            RuntimeName,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(int64(30)),
			SecurityContext:               runtimePodSecurity(),
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.ScheduleAnyway,
				LabelSelector:     &metav1.LabelSelector{MatchLabels: runtimeSelector()},
			}},
			Containers: []corev1.Container{{
				Name:            RuntimeName,
				Image:           in.Options.RuntimeImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            args,
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: RuntimePort, Protocol: corev1.ProtocolTCP},
					{Name: "ops", ContainerPort: OpsPort, Protocol: corev1.ProtocolTCP},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: runtimeCPURequest, corev1.ResourceMemory: runtimeMemoryRequest},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: runtimeCPULimit, corev1.ResourceMemory: runtimeMemoryLimit},
				},
				// readiness (store and roll) is served on the operations port
				// alone; liveness asks the voters' server itself. The startup
				// probe gives the roll's import up to an hour (720 x 5 s)
				// before liveness may restart the pod.
				StartupProbe:    probe("ops", "/readyz", 5, startupProbeFailures),
				ReadinessProbe:  probe("ops", "/readyz", 5, 3),
				LivenessProbe:   probe("http", "/healthz", 10, 3),
				VolumeMounts:    mounts,
				SecurityContext: runtimeContainerSecurity(),
			}},
			Volumes: volumes,
		},
	}
}

// PublicURLFlag gives the runtime the voter URL it writes in its letters.
const PublicURLFlag = "--" + contract.FlagPublicURL + "="

// startupProbeFailures x 5 s is how long a pod may take to import its roll.
const startupProbeFailures = 720

// rollVolume is the election's copy of its roll, all parts in one directory,
// part-0001.csv, part-0002.csv, ... in roll order; an empty directory while the
// roll is not valid (the runtime then has no roll and cannot open).
func rollVolume(in *Inputs) corev1.Volume {
	if in.Roll == nil || len(in.Roll.Parts) == 0 {
		return corev1.Volume{Name: "roll", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("1Mi"))}}}
	}
	sources := make([]corev1.VolumeProjection, 0, len(in.Roll.Parts))
	for i, p := range in.Roll.Parts {
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: p.Name},
			Items:                []corev1.KeyToPath{{Key: p.Key, Path: rollFileName(i + 1)}},
		}})
	}
	return corev1.Volume{Name: "roll", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: sources, DefaultMode: ptr.To(int32(0o440)),
	}}}
}

func secretVolume(name, secretName string, optional bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secretName, Optional: ptr.To(optional), DefaultMode: ptr.To(int32(0o440)),
	}}}
}

// KeysVolume is the election's keys Secret; with the platform trustee's key
// (verifiable mode) projected beside them, as the file belenios-trustee-key.
func KeysVolume(in *Inputs) corev1.Volume {
	if in.Keys.TrusteeKey == "" {
		return secretVolume("keys", KeysSecretName, false)
	}
	return corev1.Volume{Name: "keys", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: KeysSecretName}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: TrusteeKeySecretName},
				Items: []corev1.KeyToPath{{Key: KeyTrustee, Path: KeyTrustee}}}},
		},
		DefaultMode: ptr.To(int32(0o440)),
	}}}
}

// runtimePodSecurity is the pod security context of every pod that runs the
// voting-runtime image (its Deployment, the archive Job): the image's non-root
// user, as Pod Security's restricted profile asks.
func runtimePodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To(int64(runtimeUID)),
		RunAsGroup:     ptr.To(int64(runtimeUID)),
		FSGroup:        ptr.To(int64(runtimeUID)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// runtimeContainerSecurity is the security context of the voting-runtime
// image's container: no privilege, a read-only root, no capability.
func runtimeContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
