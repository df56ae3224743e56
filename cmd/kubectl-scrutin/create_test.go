package main

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// A roll with three bad lines among good ones; the values that must never be
// repeated are in badValues.
const badRoll = "voter_id,name,email,phone\n" +
	"A-1,Camille Martin,camille@example.org,+33612345678\n" +
	"A-2,Jean Dupont,jean.dupont-at-example.org,+33698765432\n" + // line 3: email
	"A-3,,amina@example.org,+33756781234\n" + // line 4: name
	"A-1,Louise Petit,louise@example.org,0612345678\n" // line 5: duplicate id, phone

var badValues = []string{"jean.dupont-at-example.org", "Louise Petit", "0612345678"}

// TestRollCheckWarnsFormulaCells: roll check (and create, which checks the
// same way) says which lines have a voter_id, name or email a spreadsheet
// reads as a formula, by line and column, never the value; the roll stays
// valid, and phones (E.164: all start with +) do not warn.
func TestRollCheckWarnsFormulaCells(t *testing.T) {
	f := writeFile(t, "formula.csv", "voter_id,name,email,phone\n"+
		"=A-1,Camille Martin,camille@example.org,+33612345678\n"+
		"A-2,\"=HYPERLINK(\"\"https://attacker.example\"\",\"\"x\"\")\",jean@example.org,\n"+
		"A-3,Amina,+amina@example.org,+33756781234\n")
	r := kubectlScrutin(t, "", "roll", "check", f)
	if r.code != 0 || r.stdout != "3 voters, ok\n" {
		t.Errorf("exit %d, stdout %q; want 0 and \"3 voters, ok\"", r.code, r.stdout)
	}
	mustContain(t, "stderr", r.stderr, "3 lines start like a spreadsheet formula",
		"line 2: voter_id: starts with =, +, - or @", "line 3: name: starts with", "line 4: email: starts with")
	mustNotContain(t, "stderr", r.stderr, "=A-1", "HYPERLINK", "+amina", "phone")
}

func TestRollCheck(t *testing.T) {
	good := writeFile(t, "roll.csv", goodRoll)
	r := kubectlScrutin(t, "", "roll", "check", good)
	if r.code != 0 || r.stdout != "3 voters, ok\n" {
		t.Errorf("good roll: exit %d, stdout %q; want 0 and \"3 voters, ok\"", r.code, r.stdout)
	}

	bad := writeFile(t, "bad.csv", badRoll)
	r = kubectlScrutin(t, "", "roll", "check", bad)
	if r.code != 1 {
		t.Errorf("bad roll: exit %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr,
		"line 3: email: not a valid email address",
		"line 4: name: missing",
		"line 5: voter_id: duplicate voter_id, first seen on line 2",
		"line 5: phone: not in E.164 form")
	mustNotContain(t, "stderr", r.stderr, badValues...)
	if r.stdout != "" {
		t.Errorf("bad roll: stdout %q, want nothing", r.stdout)
	}

	// A voter without a phone is unreachable by SMS codes: a warning naming
	// the line, not an error; an email reaches them with the fallback.
	noPhone := writeFile(t, "nophone.csv", "voter_id,name,email,phone\nA-1,Camille Martin,camille@example.org,\n")
	if r := kubectlScrutin(t, "", "roll", "check", "--method", "SMSCode", noPhone); r.code != 0 || r.stdout != "1 voter, ok, 1 unreachable for sign-in by SMSCode\n" ||
		!strings.Contains(r.stderr, "1 voter has no phone number") || !strings.Contains(r.stderr, "line 2: phone: no phone number") {
		t.Errorf("SMSCode roll without phone: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := kubectlScrutin(t, "", "roll", "check", "--method", "SMSCode", "--fallback", noPhone); r.code != 0 || r.stdout != "1 voter, ok\n" || r.stderr != "" {
		t.Errorf("SMSCode roll without phone, with the fallback: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := kubectlScrutin(t, "", "roll", "check", "--method", "EmailCode", noPhone); r.code != 0 || r.stdout != "1 voter, ok\n" {
		t.Errorf("EmailCode roll without phone: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := kubectlScrutin(t, "", "roll", "check", "--method", "Carrier", good); r.code != 1 || !strings.Contains(r.stderr, "--method") {
		t.Errorf("unknown method: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := kubectlScrutin(t, "", "roll", "check"); r.code != 1 || !strings.Contains(r.stderr, "FILE is required") {
		t.Errorf("no file: exit %d, stderr %q", r.code, r.stderr)
	}
}

func createArgs(name, roll string, extra ...string) []string {
	return append([]string{"create", name,
		"--title", "Élection du bureau 2027", "--organization", "Association des Amis du Parc",
		"--opens", "2027-03-14T08:00:00Z", "--closes", "2027-03-14T18:00:00+01:00",
		"--roll", roll, "--smtp-secret", "association-smtp",
		"--question", "president:Qui doit présider l'association ? Réponse : un nom:camille=Camille Martin,Louis Bernard",
		"--question", "budget:Approve the budget?:yes,no",
	}, extra...)
}

func TestCreate(t *testing.T) {
	ns := newTenant(t)
	roll := writeFile(t, "roll.csv", goodRoll)
	r := kubectlScrutin(t, ns, append(createArgs("board-2027", roll), "--allow-blank", "--replicas", "1:1")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "secret/board-2027-roll created (3 voters)", "election.elections.scrutin.dev/board-2027 created")
	// The Secret the Election names does not exist: said, not refused.
	mustContain(t, "stderr", r.stderr, "warning: --smtp-secret: Secret association-smtp does not exist")

	var e scrutinv1.Election
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "board-2027"}, &e); err != nil {
		t.Fatal(err)
	}
	s := e.Spec
	if s.Title != "Élection du bureau 2027" || s.Organization != "Association des Amis du Parc" {
		t.Errorf("title/organization: %q, %q", s.Title, s.Organization)
	}
	if got := s.Schedule.ClosesAt.UTC().Format("2006-01-02T15:04:05Z"); got != "2027-03-14T17:00:00Z" {
		t.Errorf("closesAt = %s, want 2027-03-14T17:00:00Z", got)
	}
	if len(s.Questions) != 2 {
		t.Fatalf("questions: %+v", s.Questions)
	}
	q := s.Questions[0]
	if q.ID != "president" || q.Prompt != "Qui doit présider l'association ? Réponse : un nom" || !q.AllowBlank || q.Kind != scrutinv1.SingleChoice {
		t.Errorf("question 1: %+v", q)
	}
	if len(q.Options) != 2 || q.Options[0] != (scrutinv1.Option{ID: "camille", Label: "Camille Martin"}) ||
		q.Options[1] != (scrutinv1.Option{ID: "louis-bernard", Label: "Louis Bernard"}) {
		t.Errorf("options: %+v", q.Options)
	}
	if s.VoterRoll.SecretRef.Name != "board-2027-roll" || s.VoterRoll.Key != "roll.csv" {
		t.Errorf("voterRoll: %+v", s.VoterRoll)
	}
	if s.Delivery.SMTP == nil || s.Delivery.SMTP.SecretRef.Name != "association-smtp" {
		t.Errorf("delivery: %+v", s.Delivery)
	}
	if s.Authentication.Method != scrutinv1.EmailCode || s.Authentication.CodeValidity == nil {
		t.Errorf("authentication (with the API server's defaults): %+v", s.Authentication)
	}

	var sec corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "board-2027-roll"}, &sec); err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["roll.csv"]) != goodRoll {
		t.Errorf("roll Secret holds %q", sec.Data["roll.csv"])
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != e.UID {
		t.Errorf("roll Secret owners: %+v, want the Election", sec.OwnerReferences)
	}

	// Again: the Secret exists, nothing more is created.
	r = kubectlScrutin(t, ns, createArgs("board-2027", roll)...)
	if r.code != 1 || !strings.Contains(r.stderr, "Secret board-2027-roll already exists") && !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second create: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCreateBadRollCreatesNothing(t *testing.T) {
	ns := newTenant(t)
	roll := writeFile(t, "roll.csv", badRoll)
	// Even with another mistake (closes before opens), the roll is checked first.
	r := kubectlScrutin(t, ns, append(createArgs("agm", roll), "--closes", "2027-03-13T18:00:00Z")...)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr,
		"4 problems in the voter roll",
		"line 3: email: not a valid email address",
		"line 4: name: missing",
		"line 5: voter_id: duplicate voter_id",
		"line 5: phone: not in E.164 form",
		"Nothing was created")
	mustNotContain(t, "stderr", r.stderr, badValues...)
	mustNotContain(t, "stderr", r.stderr, "closesAt")
	if secretExists(t, ns, "agm-roll") {
		t.Error("the roll Secret was created")
	}
	var e scrutinv1.Election
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "agm"}, &e); !apierrors.IsNotFound(err) {
		t.Errorf("the Election exists or cannot be read: %v", err)
	}
}

func TestCreateRefusedNamesTheField(t *testing.T) {
	ns := newTenant(t)
	roll := writeFile(t, "roll.csv", goodRoll)
	tests := map[string]struct {
		extra []string
		want  []string
	}{
		"closes before opens": {
			[]string{"--closes", "2027-03-14T07:00:00Z"},
			[]string{"spec.schedule.closesAt (--closes): must be after opensAt"},
		},
		"several pods on the embedded store": {
			[]string{"--replicas", "2:4"},
			[]string{"spec.store.type (--store): must be PostgreSQL when scaling.maxReplicas is above 1"},
		},
		"SMS codes without a gateway": {
			[]string{"--method", "SMSCode"},
			[]string{"spec.delivery.sms (--sms-secret): is required when authentication.method is SMSCode"},
		},
		"two questions with one id": {
			[]string{"--question", "budget:Approve the accounts?:yes,no"},
			[]string{`spec.questions[2] (--question #3): Duplicate value`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// SMSCode needs phones in the roll: goodRoll has them.
			r := kubectlScrutin(t, ns, append(createArgs("vote", roll), tc.extra...)...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			mustContain(t, "stderr", r.stderr, tc.want...)
			if secretExists(t, ns, "vote-roll") {
				t.Error("the roll Secret was left behind")
			}
			var e scrutinv1.Election
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "vote"}, &e); !apierrors.IsNotFound(err) {
				t.Errorf("the Election exists or cannot be read: %v", err)
			}
		})
	}
}

func TestCreateFlagErrors(t *testing.T) {
	roll := writeFile(t, "roll.csv", goodRoll)
	r := kubectlScrutin(t, "default", "create", "x", "--roll", roll, "--opens", "tomorrow", "--question", "q:Only one:yes")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr, "--title is required", "--organization is required",
		`--opens: "tomorrow" is not an RFC 3339 time`, "--closes is required",
		"--question #1: give at least two options")
	if r := kubectlScrutin(t, "default", "create", "x"); r.code != 1 || !strings.Contains(r.stderr, "--roll is required") {
		t.Errorf("no roll: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCreateDryRun(t *testing.T) {
	ns := newTenant(t)
	roll := writeFile(t, "roll.csv", goodRoll)
	r := kubectlScrutin(t, ns, append(createArgs("dry", roll), "--dry-run")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var e scrutinv1.Election
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &e); err != nil {
		t.Fatalf("stdout is not an Election: %v\n%s", err, r.stdout)
	}
	if e.Name != "dry" || e.Spec.Authentication.CodeValidity == nil || len(e.Spec.Languages) != 2 {
		t.Errorf("the printed Election lacks the API server's defaults: %+v", e.Spec)
	}
	mustContain(t, "stderr", r.stderr, "nothing was created")
	if secretExists(t, ns, "dry-roll") {
		t.Error("dry run created the roll Secret")
	}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "dry"}, &e); !apierrors.IsNotFound(err) {
		t.Errorf("dry run created the Election: %v", err)
	}
}

func TestParseQuestion(t *testing.T) {
	q, err := parseQuestion("chair: Qui : présidera ? :Élodie Dubois, bob=Bob Martin ,Zoë")
	if err != nil {
		t.Fatal(err)
	}
	if q.ID != "chair" || q.Prompt != "Qui : présidera ?" {
		t.Errorf("id %q prompt %q", q.ID, q.Prompt)
	}
	want := []scrutinv1.Option{{ID: "elodie-dubois", Label: "Élodie Dubois"}, {ID: "bob", Label: "Bob Martin"}, {ID: "zoe", Label: "Zoë"}}
	for i := range want {
		if i >= len(q.Options) || q.Options[i] != want[i] {
			t.Errorf("options = %+v, want %+v", q.Options, want)
			break
		}
	}
	for spec, wantErr := range map[string]string{
		"nocolon":            "write it 'id:Prompt:option,option'",
		"Bad:Prompt:a,b":     `id "Bad"`,
		"q::a,b":             "the prompt is empty",
		"q:P:a,,b":           "option 2 is empty",
		"q:P:Yes,yes":        "options 1 and 2 have the same id",
		"q:P:!!!,b":          "option 1",
		"q:P:a=,b":           "option 1: the label is empty",
		"q:P:only":           "at least two options",
		"q:P:Oui=Yes,non=No": `option 1: "Oui" is not an id`,
	} {
		if _, err := parseQuestion(spec); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseQuestion(%q) = %v, want an error with %q", spec, err, wantErr)
		}
	}
}

func TestCreateFlagNames(t *testing.T) {
	for field, want := range map[string]string{
		"spec.schedule.closesAt":              "--closes",
		"spec.questions[2].options[0].id":     "--question #3",
		"spec.store.type":                     "--store",
		"spec.store.postgreSQL":               "--postgres-admin-secret",
		"spec.scaling.minReplicas":            "--replicas",
		"spec.authentication.method":          "--method",
		"spec.authentication.codeValidity":    "",
		"spec.delivery.sms":                   "--sms-secret",
		"metadata.name":                       "NAME",
		"spec.scrutineers.exportFields[0]":    "",
		"spec.voterRoll.secretRef.name":       "--roll-secret",
		"spec.schedule":                       "--opens/--closes",
		"spec.organization":                   "--organization",
		"spec.delivery.smtp.secretRef.name":   "--smtp-secret",
		"spec.store.postgreSQL.adminSecretRe": "--postgres-admin-secret",
	} {
		if got := createFlag(field); got != want {
			t.Errorf("createFlag(%q) = %q, want %q", field, got, want)
		}
	}
}
