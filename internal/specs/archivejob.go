package specs

import (
	"fmt"
	"path"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/records"
)

// The archive Job (spec.archive.pvc) runs in the Election's namespace, where the
// tenant's PersistentVolumeClaim is: `voting-runtime archive-copy` reads the
// records from the runtime's operations port with the scrutineers' token (the
// tenant's Secret ScrutineerSecretName), and writes them into the claim. The
// NetworkPolicy of the election's namespace admits its pods by their labels
// (archiveCopySelector) from the Election's namespace alone.
const (
	// ArchiveComponent is the LabelComponent of the archive Job and its pods.
	ArchiveComponent = "archive-copy"
	// Annotations of the archive Job: what the controller read from the runtime
	// before starting it, and what the Job writes (the status it gives).
	AnnotationArchiveDigest = "elections.scrutin.dev/archive-digest"
	AnnotationArchiveSize   = "elections.scrutin.dev/archive-size"
	AnnotationArchiveFile   = "elections.scrutin.dev/archive-file"

	archiveMountPath = "/archive"
	// ArchiveCopyConflict is archive-copy's exit code when a different file holds
	// the archive's name.
	ArchiveCopyConflict = 3
	// archiveJobDeadline bounds a copy (the runtime serves the records within its
	// own 10-minute bound).
	archiveJobDeadline = 15 * 60
)

var (
	archiveCPURequest    = resource.MustParse("10m")
	archiveCPULimit      = resource.MustParse("500m")
	archiveMemoryRequest = resource.MustParse("32Mi")
	archiveMemoryLimit   = resource.MustParse("128Mi")
)

// ArchiveJobName is the Election's archive Job, in the Election's namespace: at
// most 63 characters (its pods carry it in a label).
func ArchiveJobName(e *scrutinv1.Election) string {
	const suffix = "-archive"
	if len(e.Name)+len(suffix) <= 63 {
		return e.Name + suffix
	}
	return e.Name[:63-len(suffix)-9] + suffix + "-" + electionHash(e, 8)
}

// archiveCopySelector are the labels of the archive Job's pods, which the
// election's NetworkPolicy admits to the operations port.
func archiveCopySelector(e *scrutinv1.Election) map[string]string {
	return map[string]string{scrutinv1.LabelElectionUID: string(e.UID), LabelComponent: ArchiveComponent}
}

// archiveFile is the archive's path in the claim for the digest.
func archiveFile(e *scrutinv1.Election, digest string) string {
	return path.Join(e.Spec.Archive.PVC.Directory, records.FileName(e.Name, string(e.UID), digest))
}

// PVCLocation is status.archive.location of a file in the claim.
func PVCLocation(dest *scrutinv1.PVCArchive, file string) string {
	return "pvc://" + dest.ClaimName + "/" + file
}

// ArchiveJob is the Job that copies the archive of that digest and size
// into the Election's claim: owned by the Election, run once (the controller
// retries with its backoff), restricted (non-root, read-only root filesystem,
// no privilege, no service account token), with resources set.
func ArchiveJob(in *Inputs, digest string, size int64) *batchv1.Job {
	e := in.Election
	file := archiveFile(e, digest)
	labels := electionLabels(e)
	for k, v := range archiveCopySelector(e) {
		labels[k] = v
	}
	args := []string{contract.ArchiveCopyCommand,
		contract.Arg(contract.FlagArchiveURL, fmt.Sprintf("http://%s.%s.svc:%d", OpsServiceName, in.Namespace, OpsPort)),
		contract.Arg(contract.FlagArchiveFile, path.Join(archiveMountPath, file)),
		contract.Arg(contract.FlagArchiveSHA256, digest),
		contract.Arg(contract.FlagArchiveSize, strconv.FormatInt(size, 10)),
	}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ArchiveJobName(e), Namespace: e.Namespace, Labels: labels,
			Annotations: map[string]string{
				AnnotationArchiveDigest: digest,
				AnnotationArchiveSize:   strconv.FormatInt(size, 10),
				AnnotationArchiveFile:   file,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: scrutinv1.GroupVersion.String(), Kind: "Election", Name: e.Name, UID: e.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To(int32(0)),
			ActiveDeadlineSeconds: ptr.To(int64(archiveJobDeadline)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              runtimePodSecurity(),
					Containers: []corev1.Container{{
						Name:            ArchiveComponent,
						Image:           in.Options.RuntimeImage,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            args,
						Env: []corev1.EnvVar{{
							Name: "SCRUTIN_RECORDS_TOKEN",
							ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: ScrutineerSecretName(e)},
								Key:                  "token",
							}},
						}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: archiveCPURequest, corev1.ResourceMemory: archiveMemoryRequest},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: archiveCPULimit, corev1.ResourceMemory: archiveMemoryLimit},
						},
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						VolumeMounts:             []corev1.VolumeMount{{Name: "archive", MountPath: archiveMountPath}},
						SecurityContext:          runtimeContainerSecurity(),
					}},
					Volumes: []corev1.Volume{{
						Name: "archive",
						VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
							ClaimName: e.Spec.Archive.PVC.ClaimName,
						}},
					}},
				},
			},
		},
	}
}
