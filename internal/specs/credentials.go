package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// The election's copy of its public credentials (verifiable mode,
// credentialAuthority External): one Secret with the keys uuid and
// public-credentials, their SHA-256 in an annotation, mounted in the runtime's pods
// and given to it by --credentials-dir.
const (
	CredentialsSecretName = "public-credentials"
	// CredentialsSHA256Annotation on the copy is the hex SHA-256 of its uuid, a
	// zero byte, and its public credentials.
	CredentialsSHA256Annotation = "elections.scrutin.dev/public-credentials-sha256"
	CredentialsDir              = "/etc/scrutin/credentials"
)

// CredentialsCopy is the election's copy of its public credentials.
type CredentialsCopy struct {
	SHA256 string
}

// credentialsVolume is the election's copy of its public credentials; an empty
// directory while there is none (the runtime then cannot import the roll).
func credentialsVolume(in *Inputs) corev1.Volume {
	if in.Credentials == nil {
		return corev1.Volume{Name: "credentials", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("1Mi"))}}}
	}
	return secretVolume("credentials", CredentialsSecretName, false)
}
