package controllers

import (
	"context"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// maxPublicCredentialsBytes bounds the tenant's public credentials (verifiable
// mode, credentialAuthority External), whose copy specs.CredentialsSecretName
// holds: a Secret's own bound (about 1,400 voters of BELENIOS-2048 credentials,
// each line some 700 bytes).
const maxPublicCredentialsBytes = corev1.MaxSecretSize

// uuidPattern is a Belenios election uuid: at least 14 Base58 characters.
var uuidPattern = regexp.MustCompile(`^[1-9A-HJ-NP-Za-km-z]{14,64}$`)

// loadCredentials reads the tenant's public credentials Secret of an External
// verifiable election, checks it and copies it into the election's namespace.
// Once the election is Open the copy is frozen: a later edit of the tenant's
// Secret is reported by a Warning event, never applied.
func (r *ElectionReconciler) loadCredentials(ctx context.Context, in *Inputs) error {
	e := in.Election
	if !e.Spec.ExternalCredentials() {
		return nil
	}
	if phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
		return r.keepFrozenCredentials(ctx, in)
	}
	// until the tenant's Secret is read, whatever copy stands is kept
	in.keepCredentialsCopy = true
	uuid, creds, problem, err := r.readCredentials(ctx, e)
	if err != nil {
		// a passing error: the pods keep the copy standing, if any, rather than
		// restart without credentials
		if sha, _, ok := r.credentialsCopySHA256(ctx, in); ok {
			in.Credentials = &specs.CredentialsCopy{SHA256: sha}
		}
		return err
	}
	if problem != nil {
		in.keepCredentialsCopy = false
		// Ready says it (with a Warning event when it becomes the reason)
		in.addProblem(problem.reason, problem.message)
		return nil
	}
	sha := credentialsSHA256(uuid, creds)
	existing, version, ok := r.credentialsCopySHA256(ctx, in)
	// a copy edited since it was last written (its annotation kept) is written again
	known, _ := r.credentialsCopies.Load(client.ObjectKeyFromObject(e))
	if !ok || existing != sha || (known != nil && known.(string) != version) {
		s := specs.SecretOf(&in.Inputs, specs.CredentialsSecretName, map[string][]byte{
			scrutinv1.PublicCredentialsUUIDKey: uuid,
			scrutinv1.PublicCredentialsKey:     creds,
		})
		s.Annotations = map[string]string{specs.CredentialsSHA256Annotation: sha}
		if err := r.apply(ctx, s); err != nil {
			return fmt.Errorf("while copying the public credentials: %w", err)
		}
		if _, version, ok = r.credentialsCopySHA256(ctx, in); !ok {
			return fmt.Errorf("the copy of the public credentials is not readable after it was written")
		}
	}
	r.credentialsCopies.Store(client.ObjectKeyFromObject(e), version)
	in.keepCredentialsCopy = false
	in.Credentials = &specs.CredentialsCopy{SHA256: sha}
	return nil
}

// readCredentials reads the tenant's Secret and checks it: present, both keys
// present, a Belenios uuid, public credentials neither empty nor too large.
func (r *ElectionReconciler) readCredentials(ctx context.Context, e *scrutinv1.Election) (uuid, creds []byte, p *problem, err error) {
	name := e.Spec.Verifiability.PublicCredentials.Name
	var s corev1.Secret
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: name}, &s)
	if isNotFound(err) {
		return nil, nil, &problem{scrutinv1.ReasonPublicCredentialsSecretMissing, fmt.Sprintf(
			"spec.verifiability.publicCredentials: Secret %s not found in namespace %s "+
				"(kubectl scrutin credentials generate writes its keys uuid and public-credentials)", name, e.Namespace)}, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("while reading the public credentials, Secret %s/%s: %w", e.Namespace, name, err)
	}
	for _, key := range []string{scrutinv1.PublicCredentialsUUIDKey, scrutinv1.PublicCredentialsKey} {
		if _, ok := s.Data[key]; !ok {
			return nil, nil, &problem{scrutinv1.ReasonPublicCredentialsKeyMissing, fmt.Sprintf(
				"spec.verifiability.publicCredentials: Secret %s has no key %q", name, key)}, nil
		}
	}
	uuid, creds = s.Data[scrutinv1.PublicCredentialsUUIDKey], s.Data[scrutinv1.PublicCredentialsKey]
	switch {
	case !uuidPattern.Match(uuid):
		return nil, nil, &problem{scrutinv1.ReasonPublicCredentialsInvalid, fmt.Sprintf(
			"spec.verifiability.publicCredentials: Secret %s, key %q: not a Belenios election uuid (14 to 64 Base58 characters, as kubectl scrutin credentials generate writes it)",
			name, scrutinv1.PublicCredentialsUUIDKey)}, nil
	case len(creds) == 0:
		return nil, nil, &problem{scrutinv1.ReasonPublicCredentialsInvalid, fmt.Sprintf(
			"spec.verifiability.publicCredentials: Secret %s, key %q is empty", name, scrutinv1.PublicCredentialsKey)}, nil
	case len(uuid)+len(creds) > maxPublicCredentialsBytes:
		return nil, nil, &problem{scrutinv1.ReasonPublicCredentialsInvalid, fmt.Sprintf(
			"spec.verifiability.publicCredentials: Secret %s, key %q holds %d bytes, more than the %d a copy can hold",
			name, scrutinv1.PublicCredentialsKey, len(creds), maxPublicCredentialsBytes-len(uuid))}, nil
	}
	return uuid, creds, nil, nil
}

func credentialsSHA256(uuid, creds []byte) string {
	b := make([]byte, 0, len(uuid)+1+len(creds))
	b = append(append(append(b, uuid...), 0), creds...)
	return sha256Hex(b)
}

// keepFrozenCredentials keeps the copy the election opened with, and warns once
// per change when the tenant's Secret no longer matches it.
func (r *ElectionReconciler) keepFrozenCredentials(ctx context.Context, in *Inputs) error {
	e := in.Election
	in.keepCredentialsCopy = true
	var copied metav1.PartialObjectMetadata
	copied.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.CredentialsSecretName}, &copied)
	if isNotFound(err) {
		msg := fmt.Sprintf("the election opened without its copy of the public credentials (Secret %s in namespace %s): ballots cannot be checked against them", specs.CredentialsSecretName, in.Namespace)
		in.addProblem(scrutinv1.ReasonPublicCredentialsCopyMissing, msg)
		return nil
	}
	if err != nil {
		return fmt.Errorf("while reading the copy of the public credentials: %w", err)
	}
	sha := copied.Annotations[specs.CredentialsSHA256Annotation]
	in.Credentials = &specs.CredentialsCopy{SHA256: sha}

	name := e.Spec.Verifiability.PublicCredentials.Name
	var tenant metav1.PartialObjectMetadata
	tenant.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: name}, &tenant)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("while reading the public credentials, Secret %s/%s: %w", e.Namespace, name, err)
	}
	version := string(e.UID) + "/absent"
	if err == nil {
		version = string(e.UID) + "/" + string(tenant.UID) + "/" + tenant.ResourceVersion
	}
	key := client.ObjectKeyFromObject(e)
	if last, ok := r.credentialsSeen.Load(key); ok && last.(string) == version {
		return nil
	}
	changed := ""
	if err != nil {
		changed = fmt.Sprintf("Secret %s was deleted", name)
	} else {
		uuid, creds, problem, err := r.readCredentials(ctx, e)
		switch {
		case err != nil:
			return err
		case problem != nil:
			changed = problem.message
		case credentialsSHA256(uuid, creds) != sha:
			changed = fmt.Sprintf("Secret %s changed", name)
		}
	}
	if changed != "" {
		r.event(e, corev1.EventTypeWarning, scrutinv1.EventPublicCredentialsChangedAfterOpening, "Provision",
			"The public credentials changed after the election opened; the ones it opened with are kept: "+changed)
	}
	r.credentialsSeen.Store(key, version)
	return nil
}

// credentialsCopySHA256 is the SHA-256 annotated on the election's copy of its
// public credentials and the copy's resourceVersion, and whether a copy was read.
func (r *ElectionReconciler) credentialsCopySHA256(ctx context.Context, in *Inputs) (sha, version string, ok bool) {
	var m metav1.PartialObjectMetadata
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.CredentialsSecretName}, &m); err != nil {
		return "", "", false
	}
	sha = m.Annotations[specs.CredentialsSHA256Annotation]
	return sha, m.ResourceVersion, sha != ""
}
