package v1alpha1

// VerifiabilityMode says whether an election is verifiable end to end.
// +kubebuilder:validation:Enum=None;Belenios
type VerifiabilityMode string

const (
	// VerifiabilityNone: today's ballot box; ballots are sealed by the platform.
	VerifiabilityNone VerifiabilityMode = "None"
	// VerifiabilityBelenios: ballots are encrypted on the voter's device, the
	// public board is a Belenios archive, and `belenios-tool election verify`
	// checks every ballot and the result.
	VerifiabilityBelenios VerifiabilityMode = "Belenios"
)

// VerifiabilityGroup is the mathematical group of the election's keys.
// +kubebuilder:validation:Enum=BELENIOS-2048
type VerifiabilityGroup string

// GroupBelenios2048 is Belenios's 2048-bit finite-field group, the only one
// accepted for now.
const GroupBelenios2048 VerifiabilityGroup = "BELENIOS-2048"

// CredentialAuthority says who makes the voters' Belenios credentials.
// +kubebuilder:validation:Enum=Platform;External
type CredentialAuthority string

const (
	// CredentialAuthorityPlatform: the runtime makes each voter's credential at
	// roll import, mails the private credential to the voter and keeps only the
	// public one.
	CredentialAuthorityPlatform CredentialAuthority = "Platform"
	// CredentialAuthorityExternal: the tenant makes the credentials offline
	// (`kubectl scrutin credentials generate`) and gives only the public ones, in
	// the Secret named by publicCredentials; the private ones never enter the
	// cluster.
	CredentialAuthorityExternal CredentialAuthority = "External"
)

// Keys of the publicCredentials Secret.
const (
	// PublicCredentialsUUIDKey holds the election's Belenios uuid, the one the
	// credentials were derived with.
	PublicCredentialsUUIDKey = "uuid"
	// PublicCredentialsKey holds the public credentials, one line per voter:
	// "credential,weight,voter_id" (Belenios's .pubcreds file).
	PublicCredentialsKey = "public-credentials"
)

// Verifiability of an election: with mode Belenios, ballots are encrypted and
// signed on the voter's device, every accepted ballot goes on a public board (a
// Belenios archive), and the result is decrypted by the trustees with proofs that
// anyone can check with Debian's `belenios-tool election verify`.
//
// +kubebuilder:validation:XValidation:rule="self.credentialAuthority != 'External' || has(self.publicCredentials)",fieldPath=".publicCredentials",message="is required when credentialAuthority is External: the Secret with the voters' public credentials (kubectl scrutin credentials generate)"
// +kubebuilder:validation:XValidation:rule="self.credentialAuthority == 'External' || !has(self.publicCredentials)",fieldPath=".publicCredentials",message="is only used when credentialAuthority is External: with Platform, the runtime makes the credentials"
// +kubebuilder:validation:XValidation:rule="self.mode == 'Belenios' || (!has(self.trustees) && !has(self.publicCredentials))",fieldPath=".mode",message="must be Belenios when trustees or publicCredentials are given"
type Verifiability struct {
	// Mode: None (the default, today's ballot box) or Belenios.
	// +kubebuilder:default=None
	// +optional
	Mode VerifiabilityMode `json:"mode,omitempty"`

	// Group of the election's keys: BELENIOS-2048, the default and only value.
	// +kubebuilder:default=BELENIOS-2048
	// +optional
	Group VerifiabilityGroup `json:"group,omitempty"`

	// CredentialAuthority: Platform (the default; the runtime makes the
	// credentials and mails each voter theirs, as a letter at roll import) or
	// External (the tenant gives the public credentials).
	// +kubebuilder:default=Platform
	// +optional
	CredentialAuthority CredentialAuthority `json:"credentialAuthority,omitempty"`

	// PublicCredentials names the Secret, in the Election's namespace, holding the
	// keys `uuid` and `public-credentials` (what `kubectl scrutin credentials
	// generate` writes): required with External, refused with Platform.
	// +optional
	PublicCredentials *SecretReference `json:"publicCredentials,omitempty"`

	// Trustees hold the election's decryption key. Unset: the platform's own
	// trustee alone.
	// +optional
	Trustees *Trustees `json:"trustees,omitempty"`
}

// Trustees of a verifiable election: the election's public key is the product of
// theirs, so every one of them (and, for a threshold group, enough of its
// members) must take part in the decryption.
//
// +kubebuilder:validation:XValidation:rule="!has(self.platform) || self.platform || (has(self.external) && size(self.external) > 0) || has(self.threshold)",fieldPath=".platform",message="cannot be false when no external or threshold trustee is given: someone must hold the decryption key"
type Trustees struct {
	// Platform: the platform's own trustee, whose private key is kept in the
	// election's keys Secret. Unset: true when neither external nor threshold
	// trustees are given, false otherwise.
	// +optional
	Platform *bool `json:"platform,omitempty"`

	// External trustees, each holding a private key of their own made offline
	// (`kubectl scrutin trustee keygen`).
	// +kubebuilder:validation:MaxItems=20
	// +listType=map
	// +listMapKey=name
	// +optional
	External []ExternalTrustee `json:"external,omitempty"`

	// Threshold trustees: t of n trustees who ran the key ceremony together
	// (`kubectl scrutin trustee ceremony`).
	// +optional
	Threshold *ThresholdTrustees `json:"threshold,omitempty"`
}

// ExternalTrustee is one trustee holding a key of their own (a Belenios Single
// trustee).
type ExternalTrustee struct {
	// Name of the trustee, unique in the list.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// PublicKey is the trustee's public key with its proof of knowledge, the JSON
	// `kubectl scrutin trustee keygen` prints:
	// {"pok":{"challenge":"…","response":"…"},"public_key":"…"}.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^\{`
	PublicKey string `json:"publicKey"`
}

// ThresholdTrustees is the outcome of a Pedersen key ceremony: any t of its n
// trustees can decrypt together.
type ThresholdTrustees struct {
	// Trustees is the ceremony's trustees entry, ["Pedersen",{…}], as `kubectl
	// scrutin trustee ceremony` prints it (up to about 20 trustees).
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=524288
	// +kubebuilder:validation:Pattern=`^\[\s*"Pedersen"\s*,`
	Trustees string `json:"trustees"`
}

// IsVerifiable says whether the election runs in a verifiable mode.
func (s *ElectionSpec) IsVerifiable() bool {
	return s.Verifiability != nil && s.Verifiability.Mode == VerifiabilityBelenios
}

// ExternalCredentials says whether the tenant gives the public credentials.
func (s *ElectionSpec) ExternalCredentials() bool {
	return s.IsVerifiable() && s.Verifiability.CredentialAuthority == CredentialAuthorityExternal
}

// PlatformTrustee says whether the platform's own trustee holds a share of the
// key: as set, or, when unset, when no external or threshold trustee is given.
func (v *Verifiability) PlatformTrustee() bool {
	t := v.Trustees
	switch {
	case t == nil:
		return true
	case t.Platform != nil:
		return *t.Platform
	default:
		return len(t.External) == 0 && t.Threshold == nil
	}
}
