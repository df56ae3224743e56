package v1alpha1

// Labels the controller puts on everything it creates for an Election: the
// three election labels tie an object to exactly one Election (the controller's
// caches and watches, the admission policies and the tools select on them).
const (
	// LabelElectionNamespace is the namespace of the Election an object serves.
	LabelElectionNamespace = "elections.scrutin.dev/election-namespace"
	// LabelElectionName is the name of the Election an object serves.
	LabelElectionName = "elections.scrutin.dev/election-name"
	// LabelElectionUID is the uid of the Election an object serves.
	LabelElectionUID = "elections.scrutin.dev/election-uid"
	// ManagedByController is the value of app.kubernetes.io/managed-by on the
	// controller's objects.
	ManagedByController = "scrutin-controller"
)

// SkipDatabaseCleanupAnnotation, set to "true" on an Election, lets it go even
// though its database cannot be dropped (the server is gone for good); the
// database is left.
const SkipDatabaseCleanupAnnotation = "elections.scrutin.dev/skip-database-cleanup"
