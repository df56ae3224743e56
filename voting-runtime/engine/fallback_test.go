package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestFallbackSendsTheCodeByTheOtherChannel: under SMSCode with
// spec.delivery.fallback, a voter without a phone gets the code by mail (and is
// told so), a voter whose number the gateway refuses for good gets the same code
// by mail; without fallback the voter without a phone cannot be reached.
func TestFallbackSendsTheCodeByTheOtherChannel(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.SMSCode)
	e := f.en.e.DeepCopy()
	e.Spec.Delivery.Fallback = true
	en, err := New(Config{Election: e, Store: f.store, Hasher: f.en.hasher, Outbox: f.en.outbox, Now: f.clock.Now, Log: f.en.log})
	if err != nil {
		t.Fatal(err)
	}
	roll := "voter_id,name,email,phone\n" +
		"V-1,Camille Martin,camille@example.org,+33612345678\n" +
		"V-9,Sans Téléphone,sans@example.org,\n"
	if _, err := en.ImportRoll(ctx, strings.NewReader(roll)); err != nil {
		t.Fatal(err)
	}

	start, err := en.StartSignIn(ctx, "V-9")
	if err != nil {
		t.Fatal(err)
	}
	if start.Channel != "mail" || !start.Fallback {
		t.Errorf("the voter without a phone: channel %q, fallback %v; want mail, true", start.Channel, start.Fallback)
	}
	code := f.waitCode(t, "sans@example.org")
	if _, _, err := en.CompleteSignIn(ctx, "V-9", code); err != nil {
		t.Errorf("the code sent by mail: %v", err)
	}

	f.sms.SetFailures(1<<20, http.StatusBadRequest, 0) // the gateway refuses the number for good
	start, err = en.StartSignIn(ctx, "V-1")
	if err != nil {
		t.Fatal(err)
	}
	if start.Channel != "sms" || start.Fallback {
		t.Errorf("the voter with a phone: channel %q, fallback %v; want sms, false", start.Channel, start.Fallback)
	}
	m, err := f.smtp.WaitFor("camille@example.org", 10*time.Second)
	if err != nil {
		t.Fatalf("the code the gateway refused never came by mail: %v", err)
	}
	if _, _, err := en.CompleteSignIn(ctx, "V-1", sink.CodeIn(m.Body)); err != nil {
		t.Errorf("the code that came by mail: %v", err)
	}

	// the same election without fallback cannot reach the voter without a phone
	if _, err := f.en.StartSignIn(ctx, "V-9"); !errors.Is(err, ErrNoChannel) {
		t.Errorf("without fallback: %v, want ErrNoChannel", err)
	}
}
