package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The record of the voting pods' template, in the election's namespace: what the
// Deployment was last given, so that a newer manager can keep applying it, whole,
// while it holds its own rendering back.
const (
	// runtimeTemplateKey holds the pod template as JSON.
	runtimeTemplateKey = "template.json"
	// RuntimeImageAnnotation and TemplateHashAnnotation on the record say which
	// image and which digest it holds.
	RuntimeImageAnnotation = "elections.scrutin.dev/runtime-image"
	TemplateHashAnnotation = "elections.scrutin.dev/template-hash"
)

// PodTemplateHash is a digest of a pod template (its JSON: Go's encoding writes
// map keys in order, so the same template always gives the same digest).
func PodTemplateHash(t *corev1.PodTemplateSpec) (string, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("while encoding the pod template: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16], nil
}

// TemplateImage is the image of the runtime's container in t.
func TemplateImage(t *corev1.PodTemplateSpec) string {
	for _, c := range t.Spec.Containers {
		if c.Name == RuntimeName {
			return c.Image
		}
	}
	return ""
}

// RuntimeTemplateRecord is the record of template t, applied with the
// Deployment.
func RuntimeTemplateRecord(in *Inputs, t *corev1.PodTemplateSpec) (*corev1.ConfigMap, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("while encoding the pod template: %w", err)
	}
	hash, err := PodTemplateHash(t)
	if err != nil {
		return nil, err
	}
	meta := objectMeta(in, RuntimeTemplateName)
	meta.Annotations = map[string]string{RuntimeImageAnnotation: TemplateImage(t), TemplateHashAnnotation: hash}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta,
		Data:       map[string]string{runtimeTemplateKey: string(data)},
	}, nil
}

// ReadRuntimeTemplateRecord is the template a record holds, or nil when the record
// does not hold one whose digest matches its annotation.
func ReadRuntimeTemplateRecord(cm *corev1.ConfigMap) *corev1.PodTemplateSpec {
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal([]byte(cm.Data[runtimeTemplateKey]), &t); err != nil {
		return nil
	}
	if h, err := PodTemplateHash(&t); err != nil || h != cm.Annotations[TemplateHashAnnotation] {
		return nil
	}
	return &t
}
