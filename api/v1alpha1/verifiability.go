package v1alpha1

// VerifiabilityMode says whether an election is verifiable.
type VerifiabilityMode string

const (
	VerifiabilityNone     VerifiabilityMode = "None"
	VerifiabilityBelenios VerifiabilityMode = "Belenios"
)

// CredentialAuthority says who makes the voters' Belenios credentials.
type CredentialAuthority string

const (
	CredentialAuthorityPlatform CredentialAuthority = "Platform"
	CredentialAuthorityExternal CredentialAuthority = "External"
)

// Verifiability is the verifiable mode (Belenios) of an election.
type Verifiability struct {
	Mode                VerifiabilityMode   `json:"mode,omitempty"`
	Group               string              `json:"group,omitempty"`
	CredentialAuthority CredentialAuthority `json:"credentialAuthority,omitempty"`
	PublicCredentials   *SecretReference    `json:"publicCredentials,omitempty"`
	Trustees            *Trustees           `json:"trustees,omitempty"`
}

// Trustees hold the election's decryption key.
type Trustees struct {
	Platform  *bool              `json:"platform,omitempty"`
	External  []ExternalTrustee  `json:"external,omitempty"`
	Threshold *ThresholdTrustees `json:"threshold,omitempty"`
}

// ExternalTrustee is a Single trustee given by its public key.
type ExternalTrustee struct {
	Name      string `json:"name"`
	PublicKey string `json:"publicKey"`
}

// ThresholdTrustees is a Pedersen (t of n) group of trustees.
type ThresholdTrustees struct {
	Trustees string `json:"trustees"`
}
