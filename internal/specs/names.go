package specs

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Labels on everything the controller creates, with the three election labels
// (api/v1alpha1's LabelElection*) that tie an object to exactly one Election; the
// controller's caches and watches select on them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"

	RuntimeName = "voting-runtime"
)

// Names of the objects inside an election's namespace. They are fixed: the namespace
// itself is what is unique to the election.
const (
	KeysSecretName = "election-keys"
	// TrusteeKeySecretName holds the platform trustee's private key (verifiable
	// mode) apart from the other keys: the hotline, which reads election-keys for
	// the control token, never reaches it.
	TrusteeKeySecretName = "election-trustee-key"
	RollSecretName       = "voter-roll"
	DeliverySecretName   = "delivery"
	DatabaseSecretName   = "database"
	ConfigMapName        = "runtime-config"
	// RuntimeTemplateName is the ConfigMap recording the pod template applied to
	// the voting Deployment (election_runtime.go).
	RuntimeTemplateName = "runtime-template"
	DataVolumeName      = "data"
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// electionHash is a short, collision-resistant digest of an Election's identity
// (namespace, name and uid: an Election deleted and re-created with the same name gets
// a fresh namespace, never the old one that may still be terminating).
func electionHash(e *scrutinv1.Election, n int) string {
	sum := sha256.Sum256([]byte(e.Namespace + "/" + e.Name + "/" + string(e.UID)))
	return lowerBase32.EncodeToString(sum[:])[:n]
}

// NamespaceName is the dedicated namespace of an Election: readable, at most 63
// characters, and unique through a 60-bit digest of the Election's identity.
func NamespaceName(e *scrutinv1.Election) string {
	readable := strings.Trim(e.Name, "-.")
	readable = strings.ReplaceAll(readable, ".", "-")
	if len(readable) > 38 {
		readable = strings.TrimRight(readable[:38], "-")
	}
	return "scrutin-" + readable + "-" + electionHash(e, 12)
}

// DatabaseName is the name of both the election's PostgreSQL database and its role.
func DatabaseName(e *scrutinv1.Election) string {
	return "scrutin_" + electionHash(e, 24)
}

// electionLabels identify the Election an object belongs to.
func electionLabels(e *scrutinv1.Election) map[string]string {
	return map[string]string{
		LabelManagedBy:                   scrutinv1.ManagedByController,
		LabelPartOf:                      "scrutin",
		scrutinv1.LabelElectionNamespace: e.Namespace,
		scrutinv1.LabelElectionName:      e.Name,
		scrutinv1.LabelElectionUID:       string(e.UID),
	}
}

// runtimeLabels are electionLabels plus the voting-runtime's own, for its pods.
func runtimeLabels(e *scrutinv1.Election) map[string]string {
	l := electionLabels(e)
	l[LabelName] = RuntimeName
	l[LabelComponent] = "voting"
	return l
}

// runtimeSelector selects the election's voting-runtime pods.
func runtimeSelector() map[string]string {
	return map[string]string{LabelName: RuntimeName, LabelManagedBy: scrutinv1.ManagedByController}
}
