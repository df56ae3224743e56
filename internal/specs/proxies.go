package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The election's copy of the organiser's proxies (spec.proxies.secretRef): one
// Secret with the key proxies.csv, its SHA-256 in an annotation, mounted in the
// runtime's pods and given to it by --proxies, which declares it once the roll
// is in.
const (
	ProxiesSecretName = "proxies"
	// ProxiesSHA256Annotation on the copy is the hex SHA-256 of its proxies.csv.
	ProxiesSHA256Annotation = "elections.scrutin.dev/proxies-sha256"
	ProxiesDir              = "/etc/scrutin/proxies"
)

// ProxiesCopy is the election's copy of the organiser's proxies.
type ProxiesCopy struct {
	SHA256 string
}

// proxiesVolume is the election's copy of its proxies; an empty directory while
// there is none (the runtime then declares no proxy of the organiser's).
func proxiesVolume(in *Inputs) corev1.Volume {
	if in.Proxies == nil {
		return corev1.Volume{Name: "proxies", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("1Mi"))}}}
	}
	return secretVolume("proxies", ProxiesSecretName, false)
}

// proxiesFile is where the runtime reads the organiser's proxies.
const proxiesFile = ProxiesDir + "/" + scrutinv1.ProxiesKey
