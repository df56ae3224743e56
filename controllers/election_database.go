package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/internal/pgadmin"
	"scrutin.dev/scrutin/internal/specs"
)

// Databases creates and drops elections' own databases and roles.
type Databases interface {
	Provision(ctx context.Context, adminDSN string, db pgadmin.Database, password string) error
	Drop(ctx context.Context, adminDSN string, db pgadmin.Database) error
}

// PostgreSQL is the Databases of real servers.
type PostgreSQL struct{}

func (PostgreSQL) Provision(ctx context.Context, adminDSN string, db pgadmin.Database, password string) error {
	return pgadmin.Provision(ctx, adminDSN, db, password)
}

func (PostgreSQL) Drop(ctx context.Context, adminDSN string, db pgadmin.Database) error {
	return pgadmin.Drop(ctx, adminDSN, db)
}

// AdminDSNKey is the key of the admin connection in the tenant's Secret.
const AdminDSNKey = contract.KeyDSN

func electionDatabase(e *scrutinv1.Election) pgadmin.Database {
	name := specs.DatabaseName(e)
	return pgadmin.Database{Name: name, Role: name}
}

// ensureDatabase creates the election's database and role on its PostgreSQL server
// the first time, and keeps the runtime's connection in in.Database. The admin
// connection never leaves the controller.
func (r *ElectionReconciler) ensureDatabase(ctx context.Context, in *Inputs) error {
	e := in.Election
	if e.Spec.Store.Type != scrutinv1.StorePostgreSQL || e.Spec.Store.PostgreSQL == nil {
		return nil
	}
	if err := r.holdAdminSecret(ctx, e, true); err != nil {
		return err
	}
	var existing corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.DatabaseSecretName}, &existing)
	if err == nil && len(existing.Data[contract.KeyDSN]) > 0 {
		in.Database = &specs.DatabaseInfo{DSN: string(existing.Data[contract.KeyDSN])}
		return nil
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("while reading the election's database Secret: %w", err)
	}
	adminDSN, err := r.adminDSN(ctx, in)
	if err != nil || adminDSN == "" {
		return err
	}
	dsn, err := runtimeDSN(adminDSN, electionDatabase(e), in.Keys.DatabasePassword)
	if err != nil {
		in.addProblem(scrutinv1.ReasonDatabaseSecretInvalid, err.Error())
		return nil
	}
	if err := r.Databases.Provision(ctx, adminDSN, electionDatabase(e), in.Keys.DatabasePassword); err != nil {
		reason, msg := databaseFailure(ctx, e, "create", err)
		in.addProblem(reason, msg)
		return fmt.Errorf("while provisioning the election's database: %w", err)
	}
	r.event(e, corev1.EventTypeNormal, scrutinv1.EventDatabaseProvisioned, "Provision",
		fmt.Sprintf("Created database and role %s", electionDatabase(e).Name))
	in.Database = &specs.DatabaseInfo{DSN: dsn}
	return nil
}

// databaseFailure is what an Election's condition and event say of a failure to
// create or drop its database. A connection that could not be opened (the DSN is
// the tenant's: the manager connects wherever it points) gets one fixed text, the
// same for a closed port, a server of another protocol, TLS or a refused login, so
// that the Election is no port scanner from the manager's network position; the
// driver's error goes to the manager's own log alone. Errors after a session was
// opened come from the tenant's own server, with the tenant's own credentials.
func databaseFailure(ctx context.Context, e *scrutinv1.Election, op string, err error) (reason, message string) {
	var ce *pgadmin.ConnectError
	if errors.As(err, &ce) {
		logf.FromContext(ctx).Info("Could not connect to an election's PostgreSQL server",
			"election", e.Namespace+"/"+e.Name, "address", ce.Address, "cause", ce.Cause().Error())
		return scrutinv1.ReasonDatabaseUnreachable, fmt.Sprintf("could not connect to the database given in spec.store.postgreSQL.adminSecretRef (Secret %s, key %q) to %s database %s; "+
			"check its host, port and credentials, and that the platform lets the operator reach that server; retrying (details in the operator's log)",
			e.Spec.Store.PostgreSQL.AdminSecretRef.Name, AdminDSNKey, op, electionDatabase(e).Name)
	}
	return scrutinv1.ReasonDatabaseProvisioningFailed, fmt.Sprintf("cannot %s database %s: %v; retrying", op, electionDatabase(e).Name, err)
}

// adminSecretFinalizer is the finalizer an Election keeps on its tenant's PostgreSQL
// admin Secret until it has dropped its database: deleting the tenant's namespace
// deletes the Secret and the Election together, and without the Secret the
// database could not be dropped (the namespace would hang Terminating). One per
// Election (by uid, as names can be longer than a finalizer's), so Elections
// sharing a Secret never release it for each other.
func adminSecretFinalizer(e *scrutinv1.Election) string {
	return "elections.scrutin.dev/database-" + string(e.UID)
}

// holdAdminSecret puts the Election's finalizer on its admin Secret (hold) or takes
// it off once its database is dropped or left (release).
func (r *ElectionReconciler) holdAdminSecret(ctx context.Context, e *scrutinv1.Election, hold bool) error {
	if e.Spec.Store.Type != scrutinv1.StorePostgreSQL || e.Spec.Store.PostgreSQL == nil {
		return nil
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.Spec.Store.PostgreSQL.AdminSecretRef.Name}, &s)
	if isNotFound(err) {
		return nil // when holding, adminDSN says so in the Ready condition
	}
	if err != nil {
		return fmt.Errorf("while reading the admin Secret: %w", err)
	}
	finalizer := adminSecretFinalizer(e)
	// already as wanted; and a Secret being deleted takes no new finalizer
	if controllerutil.ContainsFinalizer(&s, finalizer) == hold || hold && !s.DeletionTimestamp.IsZero() {
		return nil
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if hold {
		controllerutil.AddFinalizer(&s, finalizer)
	} else {
		controllerutil.RemoveFinalizer(&s, finalizer)
	}
	if err := r.Patch(ctx, &s, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("while updating the finalizers of Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// adminDSN reads the admin connection from the tenant's Secret; "" when missing.
func (r *ElectionReconciler) adminDSN(ctx context.Context, in *Inputs) (string, error) {
	name := in.Election.Spec.Store.PostgreSQL.AdminSecretRef.Name
	data, err := r.tenantSecret(ctx, in, name, scrutinv1.ReasonDatabaseSecretMissing)
	if err != nil || data == nil {
		return "", err
	}
	dsn := string(data[AdminDSNKey])
	if dsn == "" {
		in.addProblem(scrutinv1.ReasonDatabaseSecretInvalid, fmt.Sprintf("Secret %s has no key %q", name, AdminDSNKey))
	}
	return dsn, nil
}

// runtimeDSN is the admin connection with the election's own role, password and
// database in place of the admin's.
func runtimeDSN(adminDSN string, db pgadmin.Database, password string) (string, error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("the admin connection (key %q) must be a postgres:// URL with a host", AdminDSNKey)
	}
	u.User = url.UserPassword(db.Role, password)
	u.Path = "/" + db.Name
	return u.String(), nil
}
