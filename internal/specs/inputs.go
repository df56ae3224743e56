// Package specs builds the desired objects of an election's namespace: pure
// functions of Inputs (the Election, what the controller read or generated for it,
// and the operator's Options), one file per kind of object, each tested beside it
// without an API server. The controller (package controllers) reads the world,
// builds with these functions and applies what they return.
package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Options are the operator's own settings: where the runtime image comes from and
// which namespaces reach an election. None of them changes what voters or
// scrutineers see; everything that does comes from the Election alone.
type Options struct {
	// RuntimeImage is the voting-runtime image, by digest or content tag.
	RuntimeImage string
	// OperatorNamespace is where the manager runs; it may reach every runtime's
	// control endpoint.
	OperatorNamespace string
	// IngressNamespaceLabels select the namespaces of the ingress path (the ingress
	// controller) allowed to reach the voting-runtime. Empty: none but the operator.
	IngressNamespaceLabels map[string]string
	// PrometheusNamespaceLabels and PrometheusPodLabels select the Prometheus pods
	// allowed to scrape the runtime's operations port (/metrics). Empty namespace
	// labels: none but the operator.
	PrometheusNamespaceLabels map[string]string
	PrometheusPodLabels       map[string]string
	// DNSNamespace and DNSPodLabels select the cluster DNS the runtime may query.
	DNSNamespace string
	DNSPodLabels map[string]string
	// BaseDomain, when set, makes an election's host <election>.<its namespace>.
	// <BaseDomain> (unless its spec.hostname names one) and its voter URL
	// https://<host>/.
	BaseDomain string
	// Route says how voters reach the elections: through a Gateway, an Ingress
	// class, or (zero) a path the platform makes itself.
	Route RouteOptions
	// ClientIPHeader names the header in which the cluster's ingress passes the
	// voter's address (X-Forwarded-For), for the runtime's per-address sign-in
	// limit; empty: the connection's address. A property of the platform's ingress,
	// the same for every election.
	ClientIPHeader string
	// ClientIPTrustedProxies are addresses or CIDRs (comma-separated) of proxies in
	// front of the ingress, such as a load balancer, whose entries in
	// ClientIPHeader the runtime skips; only with ClientIPHeader.
	ClientIPTrustedProxies string
}

// Endpoint is a destination the runtime may reach: an address block and a TCP port.
type Endpoint struct {
	CIDR string
	Port int32
}

// DatabaseInfo is the election's own database on a PostgreSQL server.
type DatabaseInfo struct {
	DSN string // the runtime's connection, with its own role and password
}

// Inputs is everything the builders derive an election's objects from: its own
// Election, what the controller generated or validated for it, and the operator's
// Options. Builders are pure functions of Inputs.
type Inputs struct {
	Election  *scrutinv1.Election
	Namespace string
	Keys      Keys
	// Roll is the election's copy of its validated roll, part by part; nil while
	// the roll is not valid (the runtime then has no roll and cannot open).
	Roll *RollCopy
	// Delivery holds the election's mail and SMS settings, keys prefixed "smtp." and
	// "sms.", copied from the tenant's Secrets.
	Delivery map[string][]byte
	// Credentials is the election's copy of the tenant's public credentials
	// (verifiable mode, External credentials); nil otherwise, or while there is
	// no valid one.
	Credentials *CredentialsCopy
	// Proxies is the election's copy of the organiser's proxies (spec.proxies
	// with a secretRef); nil otherwise, or while there is none.
	Proxies *ProxiesCopy
	// Database is nil for the Embedded store.
	Database *DatabaseInfo
	// Host is the election's host (see ElectionHost); "" when it has none or
	// another Election holds it: then no route is made.
	Host string
	// PublicURL is the voter URL the runtime writes in its letters.
	PublicURL string
	// Egress lists the mail, SMS and database endpoints the runtime may reach.
	Egress  []Endpoint
	Options Options
	// Now is the reconcile's one reading of the controller's clock: the HPA's floor
	// follows the schedule and the announced peaks.
	Now time.Time
	// RuntimeTemplate is the voting pods' template for this reconcile, settings'
	// hash aside, decided in one place (decideRuntime, election_runtime.go): the
	// manager's own rendering, or the one applied before when a newer one is held
	// back. Unset: the manager's own.
	RuntimeTemplate *corev1.PodTemplateSpec
	// Retired: the election is past its retention.keepRunningFor (and tallied,
	// and archived where asked): its runtime is scaled to zero, its store kept.
	Retired bool
}

// Problem is what keeps an election from being Ready: the condition's reason and a
// message for people.
type Problem struct{ Reason, Message string }

// ConfigHash is a digest of everything the runtime reads at start, so that pods roll
// when (and only when) one of them changes.
func (in *Inputs) ConfigHash(config map[string]string) string {
	h := sha256.New()
	write := func(k string, v []byte) {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(v)
		h.Write([]byte{0})
	}
	for _, k := range SortedKeys(config) {
		write("config/"+k, []byte(config[k]))
	}
	if in.Roll != nil {
		for _, p := range in.Roll.Parts {
			write("roll/"+p.Name, []byte(p.SHA256))
		}
	}
	if in.Credentials != nil {
		write("credentials", []byte(in.Credentials.SHA256))
	}
	if in.Proxies != nil {
		write("proxies", []byte(in.Proxies.SHA256))
	}
	for _, k := range SortedKeys(in.Delivery) {
		write("delivery/"+k, in.Delivery[k])
	}
	if in.Database != nil {
		write("database", []byte(in.Database.DSN))
	}
	// the keys Secret: regenerated keys must reach every pod at once
	write("keys/session", in.Keys.SessionKey)
	write("keys/hash", in.Keys.HashKey)
	write("keys/control", []byte(in.Keys.ControlToken))
	write("keys/scrutineer", []byte(in.Keys.ScrutineerToken))
	if in.Keys.TrusteeKey != "" {
		// only where it exists: the pods of elections made before it do not roll
		write("keys/trustee", []byte(in.Keys.TrusteeKey))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
