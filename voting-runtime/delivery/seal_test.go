package delivery_test

import (
	"bytes"
	"errors"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/delivery"
)

func sealKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpensWhatItSealed(t *testing.T) {
	s, err := delivery.NewSealer(sealKey(1))
	if err != nil {
		t.Fatal(err)
	}
	m := delivery.Message{To: "alice@example.org", Subject: "Vote — code", Body: "your code is 48213977"}
	sealed, err := s.Seal("V1", "code", "mail", m)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{m.To, "48213977", "alice", "Vote"} {
		if bytes.Contains(sealed, []byte(clear)) {
			t.Errorf("the sealed message holds %q in clear", clear)
		}
	}
	got, err := s.Open("V1", "code", "mail", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if want := (delivery.Message{VoterID: "V1", To: m.To, Subject: m.Subject, Body: m.Body}); got != want {
		t.Errorf("opened %+v, want %+v", got, want)
	}
	again, _ := s.Seal("V1", "code", "mail", m)
	if bytes.Equal(again, sealed) {
		t.Error("sealing the same message twice gave the same bytes: the nonce is not random")
	}
}

func TestSealRefusesTamperedMessage(t *testing.T) {
	s, _ := delivery.NewSealer(sealKey(1))
	sealed, _ := s.Seal("V1", "credential", "mail", delivery.Message{To: "a@example.org", Body: "credential ABCD-EFGH"})
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := s.Open("V1", "credential", "mail", bad); !errors.Is(err, delivery.ErrUnsealable) {
			t.Fatalf("byte %d flipped: Open = %v, want ErrUnsealable", i, err)
		}
	}
	if _, err := s.Open("V1", "credential", "mail", sealed[:len(sealed)-1]); !errors.Is(err, delivery.ErrUnsealable) {
		t.Errorf("truncated: Open = %v, want ErrUnsealable", err)
	}
	if _, err := s.Open("V1", "credential", "mail", nil); !errors.Is(err, delivery.ErrUnsealable) {
		t.Errorf("empty (erased): Open = %v, want ErrUnsealable", err)
	}
}

func TestSealRefusesWrongKey(t *testing.T) {
	s1, _ := delivery.NewSealer(sealKey(1))
	s2, _ := delivery.NewSealer(sealKey(2))
	sealed, _ := s1.Seal("V1", "code", "sms", delivery.Message{To: "+33612345678", Body: "12345678"})
	if _, err := s2.Open("V1", "code", "sms", sealed); !errors.Is(err, delivery.ErrUnsealable) {
		t.Errorf("another election's key: Open = %v, want ErrUnsealable", err)
	}
}

func TestSealRefusesWrongVoterKindOrChannel(t *testing.T) {
	s, _ := delivery.NewSealer(sealKey(1))
	sealed, _ := s.Seal("V1", "code", "mail", delivery.Message{To: "a@example.org", Body: "12345678"})
	for _, c := range []struct{ voter, kind, channel string }{
		{"V2", "code", "mail"}, {"V1", "credential", "mail"}, {"V1", "code", "sms"},
		{"V1c", "ode", "mail"}, // the same bytes run together: the length prefixes tell them apart
	} {
		if _, err := s.Open(c.voter, c.kind, c.channel, sealed); !errors.Is(err, delivery.ErrUnsealable) {
			t.Errorf("opened as %+v: err = %v, want ErrUnsealable", c, err)
		}
	}
}

func TestSealerNeedsAFullKey(t *testing.T) {
	if _, err := delivery.NewSealer(make([]byte, 16)); err == nil {
		t.Error("NewSealer accepted a 16-byte hash key")
	}
}
