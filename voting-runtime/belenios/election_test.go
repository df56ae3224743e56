package belenios

import (
	"bytes"
	"strings"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func TestQuestionsOfMapsKindsBlankAndBounds(t *testing.T) {
	three := int32(2)
	opts := []scrutinv1.Option{{ID: "a", Label: "Alice"}, {ID: "b", Label: "Bob"}, {ID: "c", Label: "Carol"}}
	qs, err := QuestionsOf([]scrutinv1.Question{
		{ID: "chair", Prompt: "Chair?", Kind: scrutinv1.SingleChoice, Options: opts, MinChoices: 1, AllowBlank: true},
		{ID: "board", Prompt: "Board?", Kind: scrutinv1.MultipleChoice, Options: opts, MinChoices: 1, MaxChoices: &three},
		{ID: "all", Prompt: "All?", Kind: scrutinv1.MultipleChoice, Options: opts, MinChoices: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Question{
		{Answers: []string{"Alice", "Bob", "Carol"}, Blank: true, Min: 1, Max: 1, Question: "Chair?"},
		{Answers: []string{"Alice", "Bob", "Carol"}, Min: 1, Max: 2, Question: "Board?"},
		{Answers: []string{"Alice", "Bob", "Carol"}, Min: 2, Max: 3, Question: "All?"},
	}
	got, _ := Marshal(qs)
	w, _ := Marshal(want)
	if !bytes.Equal(got, w) {
		t.Fatalf("QuestionsOf:\n got %s\nwant %s", got, w)
	}
	_, err = QuestionsOf([]scrutinv1.Question{{ID: "rank", Prompt: "Rank", Kind: scrutinv1.Ranked, Options: opts, MinChoices: 1}})
	if err == nil || !strings.Contains(err.Error(), `"rank"`) {
		t.Fatalf("a Ranked question: %v", err)
	}
}

func TestElectionRecordIsCanonicalAndParsesBack(t *testing.T) {
	g := Belenios2048()
	uuid, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	if len(uuid) != 14 {
		t.Fatalf("uuid of %d characters", len(uuid))
	}
	y := g.Exp(bigInt(42))
	raw, err := NewElectionRecord(uuid, "Name <&>", "Dé", testQuestions(), y)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"description":"Dé","name":"Name <&>","group":"BELENIOS-2048","public_key":"` + y.Text(10) +
		`","questions":[{"answers":["Alice","Bob","Carol"],"blank":true,"min":1,"max":1,"question":"Chair?"},` +
		`{"answers":["X","Y","Z"],"min":1,"max":2,"question":"Board — élus ?"}],"uuid":"` + uuid + `"}`
	if string(raw) != want {
		t.Fatalf("election record\n got %s\nwant %s", raw, want)
	}
	e, err := ParseElection(append(raw, '\n'))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Raw, raw) || e.Fingerprint != SHA256B64(raw) || e.PublicKey.Cmp(y) != 0 {
		t.Fatal("ParseElection did not keep the bytes, fingerprint and key")
	}
	for name, bad := range map[string][]byte{
		"other group":     bytes.Replace(raw, []byte("BELENIOS-2048"), []byte("RFC-3526-2048"), 1),
		"key not element": bytes.Replace(raw, []byte(y.Text(10)), []byte("2"), 1),
		"min above max":   bytes.Replace(raw, []byte(`"min":1,"max":2`), []byte(`"min":3,"max":2`), 1),
		"unknown field":   bytes.Replace(raw, []byte(`"version":1,`), []byte(`"version":1,"x":1,`), 1),
		"short uuid":      bytes.Replace(raw, []byte(uuid), []byte("abc"), 1),
		"version 2":       bytes.Replace(raw, []byte(`"version":1`), []byte(`"version":2`), 1),
		"non-homomorphic": bytes.Replace(raw, []byte(`{"answers":["X"`), []byte(`{"type":"NonHomomorphic","answers":["X"`), 1),
	} {
		if _, err := ParseElection(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewElectionRecord("0OIl0OIl0OIl0O", "n", "d", testQuestions(), y); err == nil {
		t.Fatal("a uuid outside Base58 was accepted")
	}
}
