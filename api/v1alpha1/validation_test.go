package v1alpha1_test

// These tests apply Elections to a real kube-apiserver and etcd: every rule of the
// API must be enforced by the API server itself, with a message naming the field.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) {
	var err error
	env, err = controlplane.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "while stopping the control plane:", err)
	}
	os.Exit(code)
}

// invalidSample is one file of config/samples/invalid with the fields it must be
// refused for (its "# expect:" lines).
type invalidSample struct {
	path   string
	expect []string
}

func invalidSamples(t *testing.T) []invalidSample {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "config", "samples", "invalid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("want at least 20 invalid samples, found %d", len(files))
	}
	var samples []invalidSample
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		s := invalidSample{path: f}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "# expect: "); ok {
				s.expect = append(s.expect, strings.TrimSpace(rest))
			}
		}
		fh.Close()
		if len(s.expect) == 0 {
			t.Fatalf("%s has no '# expect: FIELD' line", f)
		}
		samples = append(samples, s)
	}
	return samples
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns, err := env.Namespace(context.Background(), "tenant-"+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))[:min(30, len(t.Name()))])
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestInvalidSamplesRefused creates each invalid sample through the API with strict
// field validation (kubectl's default) and checks the refusal names the field.
func TestInvalidSamplesRefused(t *testing.T) {
	ns := newNamespace(t)
	for _, s := range invalidSamples(t) {
		t.Run(filepath.Base(s.path), func(t *testing.T) {
			objs, err := controlplane.ReadObjects(s.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 1 {
				t.Fatalf("want one object, found %d", len(objs))
			}
			obj := objs[0]
			obj.SetNamespace(ns)
			err = env.Client.Create(context.Background(), obj, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("the API server accepted it; want a refusal naming %v", s.expect)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("want Invalid or BadRequest, got %v", err)
			}
			for _, field := range s.expect {
				if !strings.Contains(err.Error(), field) {
					t.Errorf("refusal does not name %s:\n%v", field, err)
				}
			}
			var got unstructured.Unstructured
			got.SetGroupVersionKind(obj.GroupVersionKind())
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), &got); !apierrors.IsNotFound(err) {
				t.Errorf("refused object exists after all (err=%v)", err)
			}
		})
	}
}

// TestInvalidSamplesRefusedByKubectl: what a platform operator sees with kubectl.
func TestInvalidSamplesRefusedByKubectl(t *testing.T) {
	ns := newNamespace(t)
	for _, s := range invalidSamples(t) {
		t.Run(filepath.Base(s.path), func(t *testing.T) {
			out, err := env.Kubectl("apply", "-n", ns, "-f", s.path)
			if err == nil {
				t.Fatalf("kubectl apply succeeded:\n%s", out)
			}
			for _, field := range s.expect {
				if !strings.Contains(out, field) {
					t.Errorf("kubectl's error does not name %s:\n%s", field, out)
				}
			}
		})
	}
}

// TestValidSamplesAccepted applies every sample of config/samples with kubectl.
func TestValidSamplesAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.Root, "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			ns := newNamespace(t)
			if out, err := env.Kubectl("apply", "-n", ns, "-f", f); err != nil {
				t.Fatalf("kubectl apply refused a valid sample: %v\n%s", err, out)
			}
			objs, err := controlplane.ReadObjects(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if o.GetKind() != "Election" {
					continue
				}
				var e v1.Election
				if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: o.GetName()}, &e); err != nil {
					t.Fatalf("while reading back %s: %v", o.GetName(), err)
				}
				if e.Spec.Title == "" || len(e.Spec.Questions) == 0 {
					t.Errorf("%s read back without its title or questions: %+v", o.GetName(), e.Spec)
				}
			}
		})
	}
	if n < 3 {
		t.Fatalf("want at least 3 valid samples, found %d", n)
	}
	// The kustomization the demo applies.
	ns := newNamespace(t)
	if out, err := env.Kubectl("apply", "-n", ns, "-k", filepath.Join(env.Root, "config", "samples")); err != nil {
		t.Fatalf("kubectl apply -k config/samples: %v\n%s", err, out)
	}
}

func minimalElection(ns, name string) *v1.Election {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	return &v1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.ElectionSpec{
			Title:        "Board election",
			Organization: "Example association",
			Schedule:     v1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(10 * time.Hour))},
			Questions: []v1.Question{{
				ID: "chair", Prompt: "Who should chair the board?",
				Options: []v1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}},
			}, {
				ID: "board", Prompt: "Elect the board", Kind: v1.MultipleChoice,
				Options: []v1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}, {ID: "carol", Label: "Carol"}},
			}},
			VoterRoll: v1.VoterRoll{SecretRef: &v1.SecretReference{Name: "roll"}},
			Delivery:  v1.Delivery{SMTP: &v1.DeliveryChannel{SecretRef: v1.SecretReference{Name: "smtp"}}},
		},
	}
}

// TestDefaultsRoundTrip: what a tenant leaves out comes back with safe defaults.
func TestDefaultsRoundTrip(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	e := minimalElection(ns, "defaults")
	if err := env.Client.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	var got v1.Election
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	checks := map[string]struct{ got, want any }{
		"languages":          {fmt.Sprint(s.Languages), "[fr en]"},
		"question kind":      {s.Questions[0].Kind, v1.SingleChoice},
		"minChoices":         {s.Questions[0].MinChoices, int32(1)},
		"maxChoices unset":   {s.Questions[1].MaxChoices == nil, true},
		"effective max (SC)": {s.Questions[0].EffectiveMaxChoices(), int32(1)},
		"effective max (MC)": {s.Questions[1].EffectiveMaxChoices(), int32(3)},
		"roll key":           {s.VoterRoll.Key, "roll.csv"},
		"method":             {s.Authentication.Method, v1.EmailCode},
		"codeValidity":       {s.Authentication.CodeValidity.Duration, 10 * time.Minute},
		"signInTimeout":      {s.Authentication.SignInTimeout.Duration, 15 * time.Minute},
		"sessionIdleTimeout": {s.Authentication.SessionIdleTimeout.Duration, 20 * time.Minute},
		"sessionMaxLifetime": {s.Authentication.SessionMaxLifetime.Duration, 2 * time.Hour},
		"resendCooldown":     {s.Authentication.ResendCooldown.Duration, time.Minute},
		"maxCodeAttempts":    {s.Authentication.MaxCodeAttempts, int32(5)},
		"minReplicas":        {s.Scaling.MinReplicas, int32(1)},
		"maxReplicas":        {s.Scaling.MaxReplicas, int32(1)},
		"cpu target":         {ptr.Deref(s.Scaling.TargetCPUUtilizationPercentage, 0), int32(70)},
		"in-flight target":   {s.Scaling.TargetInFlightRequestsPerPod == nil, true},
		"in-flight bound":    {s.Scaling.MaxInFlightRequestsPerPod, int32(256)},
		"pre-scale lead":     {s.Scaling.PreScaleLead.Duration, 10 * time.Minute},
		"no opening floor":   {s.Scaling.OpeningMinReplicas == nil, true},
		"no peaks":           {len(s.Scaling.Peaks), 0},
		"store":              {s.Store.Type, v1.StoreEmbedded},
		"export fields":      {fmt.Sprint(s.Scrutineers.ExportFields), "[VoterID Name Voted]"},
		"schedule opens":     {s.Schedule.OpensAt.UTC(), e.Spec.Schedule.OpensAt.UTC()},
		"title":              {s.Title, e.Spec.Title},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", name, c.got, c.want)
		}
	}
	// A second write of what was read changes nothing: defaults are stable.
	before := got.Generation
	if err := env.Client.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got.Generation != before {
		t.Errorf("writing back the defaulted object bumped the generation %d -> %d", before, got.Generation)
	}
}

// TestGoDefaultsMatchTheAPIServer: Election.Default (used by local runs) fills in
// exactly what the API server does.
func TestGoDefaultsMatchTheAPIServer(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	for name, mutate := range map[string]func(*v1.Election){
		"minimal": func(*v1.Election) {},
		"partial authentication": func(e *v1.Election) {
			e.Spec.Authentication = v1.Authentication{Method: v1.SMSCode, CodeValidity: &metav1.Duration{Duration: 5 * time.Minute}}
			e.Spec.Delivery.SMS = &v1.DeliveryChannel{SecretRef: v1.SecretReference{Name: "sms"}}
		},
		"partial scaling": func(e *v1.Election) {
			e.Spec.Scaling = v1.Scaling{MaxReplicas: 3}
			e.Spec.Store = v1.Store{Type: v1.StorePostgreSQL, PostgreSQL: &v1.PostgreSQLStore{AdminSecretRef: v1.SecretReference{Name: "pg"}}}
		},
		"peaks": func(e *v1.Election) {
			noon := metav1.NewTime(e.Spec.Schedule.OpensAt.Add(4 * time.Hour))
			e.Spec.Scaling = v1.Scaling{MaxReplicas: 6, OpeningMinReplicas: ptr.To(int32(3)), Peaks: []v1.Peak{
				{At: noon, MinReplicas: 6},
				{At: metav1.NewTime(noon.Add(3 * time.Hour)), Duration: &metav1.Duration{Duration: 30 * time.Minute}, MinReplicas: 4},
			}}
			e.Spec.Store = v1.Store{Type: v1.StorePostgreSQL, PostgreSQL: &v1.PostgreSQLStore{AdminSecretRef: v1.SecretReference{Name: "pg"}}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := minimalElection(ns, "defaults-"+strings.ReplaceAll(name, " ", "-"))
			mutate(e)
			local := e.DeepCopy()
			local.Default()
			if err := env.Client.Create(ctx, e); err != nil {
				t.Fatal(err)
			}
			var server v1.Election
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &server); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(local.Spec, server.Spec) {
				t.Errorf("Go defaults differ from the API server's:\nGo:     %+v\nserver: %+v", local.Spec, server.Spec)
			}
		})
	}
}

// TestStoreTypeCannotChange is a CEL transition rule (oldSelf).
func TestStoreTypeCannotChange(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	e := minimalElection(ns, "store")
	if err := env.Client.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.Spec.Store = v1.Store{Type: v1.StorePostgreSQL, PostgreSQL: &v1.PostgreSQLStore{AdminSecretRef: v1.SecretReference{Name: "pg"}}}
	err := env.Client.Update(ctx, e)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.store.type") {
		t.Fatalf("want a refusal naming spec.store.type, got %v", err)
	}
}

func setPhase(t *testing.T, e *v1.Election, phase v1.Phase) {
	t.Helper()
	e.Status.Phase = phase
	if err := env.Client.Status().Update(context.Background(), e); err != nil {
		t.Fatalf("while setting the phase to %s: %v", phase, err)
	}
}

// eventually retries f until it returns nil or 10 s pass: admission policies take
// effect shortly after they are created.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLockedOnceOpen: the ValidatingAdmissionPolicy freezes questions, roll and
// sign-in method once the election is Open, keeps the scrutineers' export from
// gaining a column, and still lets the close move and the export narrow.
func TestLockedOnceOpen(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	e := minimalElection(ns, "locked")
	if err := env.Client.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Before opening, everything can change.
	e.Spec.Questions[0].Options = append(e.Spec.Questions[0].Options, v1.Option{ID: "carol", Label: "Carol"})
	if err := env.Client.Update(ctx, e); err != nil {
		t.Fatalf("a Scheduled election's questions must be editable: %v", err)
	}
	setPhase(t, e, v1.PhaseOpen)

	edits := map[string]func(*v1.Election){
		"spec.questions":             func(x *v1.Election) { x.Spec.Questions[0].Options[0].Label = "Alice B." },
		"spec.voterRoll":             func(x *v1.Election) { x.Spec.VoterRoll.SecretRef.Name = "other-roll" },
		"spec.authentication.method": func(x *v1.Election) { x.Spec.Authentication.Method = v1.Credential },
		"spec.schedule.opensAt": func(x *v1.Election) {
			x.Spec.Schedule.OpensAt = metav1.NewTime(x.Spec.Schedule.OpensAt.Add(-time.Hour))
		},
		"spec.scrutineers.exportFields": func(x *v1.Election) {
			x.Spec.Scrutineers.ExportFields = append(x.Spec.Scrutineers.ExportFields, v1.FieldEmail)
		},
	}
	for field, edit := range edits {
		t.Run(field, func(t *testing.T) {
			eventually(t, "want a refusal naming "+field, func() error {
				var cur v1.Election
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
					return err
				}
				edit(&cur)
				err := env.Client.Update(ctx, &cur)
				switch {
				case err == nil:
					return fmt.Errorf("the edit was accepted")
				case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
					return fmt.Errorf("unexpected error %v", err)
				case !strings.Contains(err.Error(), field):
					return fmt.Errorf("refusal does not name %s: %v", field, err)
				}
				return nil
			})
		})
	}
	// Extending the vote is allowed while Open.
	var cur v1.Election
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Schedule.ClosesAt = metav1.NewTime(cur.Spec.Schedule.ClosesAt.Add(time.Hour))
	cur.Spec.Title = "Board election (extended)"
	if err := env.Client.Update(ctx, &cur); err != nil {
		t.Fatalf("moving closesAt of an Open election must be allowed: %v", err)
	}
	// So is announcing a peak: spec.scaling is never frozen.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Scaling.Peaks = []v1.Peak{{At: metav1.NewTime(cur.Spec.Schedule.OpensAt.Add(4 * time.Hour)), MinReplicas: 1}}
	if err := env.Client.Update(ctx, &cur); err != nil {
		t.Fatalf("announcing a peak during an Open election must be allowed: %v", err)
	}
	// And narrowing the scrutineers' export.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
		t.Fatal(err)
	}
	if len(cur.Spec.Scrutineers.ExportFields) < 2 {
		t.Fatalf("the default export has %v", cur.Spec.Scrutineers.ExportFields)
	}
	cur.Spec.Scrutineers.ExportFields = cur.Spec.Scrutineers.ExportFields[:1]
	if err := env.Client.Update(ctx, &cur); err != nil {
		t.Fatalf("removing a column from the export of an Open election must be allowed: %v", err)
	}
	// And the lock still holds after the close.
	setPhase(t, &cur, v1.PhaseTallied)
	cur.Spec.Questions[1].Prompt = "Changed after the tally"
	if err := env.Client.Update(ctx, &cur); !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Fatalf("editing questions of a Tallied election must be refused, got %v", err)
	}
}

// TestScheduleFrozenOnceClosed is the finding "a receipt for a ballot that is
// never counted" at the API: once an election is Closed or Tallied, neither
// closesAt nor opensAt can move (a closesAt moved after the tally sent the
// election back to Open, its runtime taking ballots no one would count), and the
// refusal names the field. While Open, closesAt still moves.
func TestScheduleFrozenOnceClosed(t *testing.T) {
	ctx := context.Background()
	for _, phase := range []v1.Phase{v1.PhaseClosed, v1.PhaseTallied} {
		t.Run(string(phase), func(t *testing.T) {
			ns := newNamespace(t)
			e := minimalElection(ns, "frozen")
			if err := env.Client.Create(ctx, e); err != nil {
				t.Fatal(err)
			}
			setPhase(t, e, v1.PhaseOpen)
			eventually(t, "moving closesAt of an Open election must be allowed", func() error {
				var cur v1.Election
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
					return err
				}
				cur.Spec.Schedule.ClosesAt = metav1.NewTime(cur.Spec.Schedule.ClosesAt.Add(time.Minute))
				return env.Client.Update(ctx, &cur)
			})
			var cur v1.Election
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
				t.Fatal(err)
			}
			setPhase(t, &cur, phase)
			edits := map[string]func(*v1.Election){
				"spec.schedule.closesAt": func(x *v1.Election) {
					x.Spec.Schedule.ClosesAt = metav1.NewTime(x.Spec.Schedule.ClosesAt.Add(time.Hour))
				},
				"spec.schedule.opensAt": func(x *v1.Election) {
					x.Spec.Schedule.OpensAt = metav1.NewTime(x.Spec.Schedule.OpensAt.Add(-time.Hour))
				},
			}
			for field, edit := range edits {
				eventually(t, "want a refusal naming "+field, func() error {
					var cur v1.Election
					if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
						return err
					}
					edit(&cur)
					err := env.Client.Update(ctx, &cur)
					switch {
					case err == nil:
						return fmt.Errorf("the edit was accepted")
					case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
						return fmt.Errorf("unexpected error %v", err)
					case !strings.Contains(err.Error(), field):
						return fmt.Errorf("refusal does not name %s: %v", field, err)
					}
					return nil
				})
			}
		})
	}
}

// TestOpenElectionDeleteNeedsCancel: deleting an Open election needs the explicit
// cancel annotation; other phases delete freely.
func TestOpenElectionDeleteNeedsCancel(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	open := minimalElection(ns, "open")
	if err := env.Client.Create(ctx, open); err != nil {
		t.Fatal(err)
	}
	setPhase(t, open, v1.PhaseOpen)
	eventually(t, "deleting an Open election must be refused naming the annotation", func() error {
		err := env.Client.Delete(ctx, open)
		switch {
		case err == nil:
			return fmt.Errorf("the delete was accepted")
		case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
			return fmt.Errorf("unexpected error %v", err)
		case !strings.Contains(err.Error(), v1.CancelledAnnotation):
			return fmt.Errorf("refusal does not name the annotation: %v", err)
		}
		return nil
	})
	if out, err := env.Kubectl("delete", "-n", ns, "election", "open"); err == nil || !strings.Contains(out, v1.CancelledAnnotation) {
		t.Fatalf("kubectl delete of an Open election: want a refusal naming %s, got err=%v\n%s", v1.CancelledAnnotation, err, out)
	}
	if out, err := env.Kubectl("annotate", "-n", ns, "election", "open", v1.CancelledAnnotation+"=true"); err != nil {
		t.Fatalf("annotate: %v\n%s", err, out)
	}
	if out, err := env.Kubectl("delete", "-n", ns, "election", "open"); err != nil {
		t.Fatalf("a cancelled Open election must delete: %v\n%s", err, out)
	}

	scheduled := minimalElection(ns, "scheduled")
	if err := env.Client.Create(ctx, scheduled); err != nil {
		t.Fatal(err)
	}
	setPhase(t, scheduled, v1.PhaseScheduled)
	if err := env.Client.Delete(ctx, scheduled); err != nil {
		t.Fatalf("a Scheduled election must delete without ceremony: %v", err)
	}
}

// TestUpgradePolicy: spec.runtime.upgradePolicy defaults to WhenNotOpen (with or
// without spec.runtime), takes Immediate, refuses anything else naming the field,
// and a tenant may opt in while the vote is Open.
func TestUpgradePolicy(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	for name, runtime := range map[string]*v1.RuntimeSpec{"omitted": nil, "empty": {}} {
		e := minimalElection(ns, "policy-"+name)
		e.Spec.Runtime = runtime
		if err := env.Client.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		var got v1.Election
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Runtime == nil || got.Spec.Runtime.UpgradePolicy != v1.UpgradeWhenNotOpen {
			t.Errorf("%s: spec.runtime %+v, want the default WhenNotOpen", name, got.Spec.Runtime)
		}
	}
	bad := minimalElection(ns, "policy-bad")
	bad.Spec.Runtime = &v1.RuntimeSpec{UpgradePolicy: "Always"}
	if err := env.Client.Create(ctx, bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.runtime.upgradePolicy") {
		t.Fatalf("want a refusal naming spec.runtime.upgradePolicy, got %v", err)
	}

	e := minimalElection(ns, "policy-open")
	if err := env.Client.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	setPhase(t, e, v1.PhaseOpen)
	eventually(t, "opting in while Open", func() error {
		var cur v1.Election
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
			return err
		}
		cur.Spec.Runtime = &v1.RuntimeSpec{UpgradePolicy: v1.UpgradeImmediate}
		return env.Client.Update(ctx, &cur)
	})
}
