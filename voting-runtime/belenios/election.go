package belenios

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// ElectionRecord is a published election record: its exact bytes, their
// fingerprint and what they say. Raw is never re-serialized.
type ElectionRecord struct {
	Raw         []byte
	Fingerprint string
	Election    Election
	Group       *Group
	PublicKey   *big.Int

	tablesOnce sync.Once
	gTable     *fixedBase
	yTable     *fixedBase
}

// uuidLength is the length of the uuids Scrutin makes (Belenios's default).
const uuidLength = 14

// NewUUID is a fresh election uuid: 14 Base58 characters from crypto/rand, as
// `belenios-tool setup generate-token` makes them.
func NewUUID() (string, error) {
	s, _, err := randomBase58(uuidLength)
	return s, err
}

func checkUUID(uuid string) error {
	if len(uuid) < uuidLength {
		return fmt.Errorf("the election uuid must have at least %d characters", uuidLength)
	}
	for i := 0; i < len(uuid); i++ {
		if strings.IndexByte(base58, uuid[i]) < 0 {
			return errors.New("the election uuid holds Base58 characters only")
		}
	}
	return nil
}

// QuestionsOf maps an Election's questions to Belenios's homomorphic questions:
// SingleChoice is min = max = 1, MultipleChoice minChoices..maxChoices, answers
// are the option labels, the question is the prompt, and AllowBlank adds the
// blank slot. Ranked questions have no homomorphic form: an error names them.
func QuestionsOf(qs []scrutinv1.Question) ([]Question, error) {
	if len(qs) == 0 {
		return nil, errors.New("an election needs at least one question")
	}
	out := make([]Question, len(qs))
	for i := range qs {
		q := &qs[i]
		bq := Question{Question: q.Prompt, Blank: q.AllowBlank}
		for _, o := range q.Options {
			bq.Answers = append(bq.Answers, o.Label)
		}
		min := int(q.MinChoices)
		if min == 0 {
			min = 1
		}
		switch q.Kind {
		case scrutinv1.SingleChoice, "":
			bq.Min, bq.Max = 1, 1
		case scrutinv1.MultipleChoice:
			bq.Min, bq.Max = min, int(q.EffectiveMaxChoices())
		default:
			return nil, fmt.Errorf("question %q: a %s question cannot be counted homomorphically; the verifiable mode takes SingleChoice and MultipleChoice questions", q.ID, q.Kind)
		}
		if err := checkQuestion(bq); err != nil {
			return nil, fmt.Errorf("question %q: %w", q.ID, err)
		}
		out[i] = bq
	}
	return out, nil
}

func checkQuestion(q Question) error {
	if len(q.Answers) < 1 {
		return errors.New("a question needs answers")
	}
	if q.Min < 0 || q.Min > q.Max || q.Max > len(q.Answers) {
		return fmt.Errorf("min %d and max %d must satisfy 0 <= min <= max <= %d answers", q.Min, q.Max, len(q.Answers))
	}
	return nil
}

// NewElectionRecord is the canonical bytes of an election record (version 1,
// group BELENIOS-2048) with public key y: what the board and voters hash.
func NewElectionRecord(uuid, name, description string, qs []Question, y *big.Int) ([]byte, error) {
	if err := checkUUID(uuid); err != nil {
		return nil, err
	}
	if len(qs) == 0 {
		return nil, errors.New("an election needs at least one question")
	}
	for i, q := range qs {
		if err := checkQuestion(q); err != nil {
			return nil, fmt.Errorf("question %d: %w", i+1, err)
		}
	}
	g := Belenios2048()
	if !g.IsElement(y) || y.Cmp(one) == 0 {
		return nil, errors.New("the election public key is not an element of the group")
	}
	return Marshal(Election{
		Version:     1,
		Description: description,
		Name:        name,
		Group:       g.Name,
		PublicKey:   NewInt(y),
		Questions:   qs,
		UUID:        uuid,
	})
}

// ParseElection reads an election record, keeping its bytes as they are (a
// trailing newline, as make-election writes, is dropped): the fingerprint is
// the SHA256B64 of Raw.
func ParseElection(raw []byte) (*ElectionRecord, error) {
	raw = []byte(strings.TrimSuffix(string(raw), "\n"))
	var e Election
	if err := UnmarshalStrict(raw, &e); err != nil {
		return nil, fmt.Errorf("election record: %w", err)
	}
	if e.Version != 1 {
		return nil, fmt.Errorf("election record: version %d is not supported (1 is)", e.Version)
	}
	g, err := GroupByName(e.Group)
	if err != nil {
		return nil, fmt.Errorf("election record: %w", err)
	}
	if err := checkUUID(e.UUID); err != nil {
		return nil, fmt.Errorf("election record: %w", err)
	}
	if e.PublicKey == nil || !g.IsElement(e.PublicKey.Big()) {
		return nil, errors.New("election record: the public key is not an element of the group")
	}
	if len(e.Questions) == 0 {
		return nil, errors.New("election record: no question")
	}
	for i, q := range e.Questions {
		if err := checkQuestion(q); err != nil {
			return nil, fmt.Errorf("election record: question %d: %w", i+1, err)
		}
	}
	return &ElectionRecord{
		Raw:         raw,
		Fingerprint: SHA256B64(raw),
		Election:    e,
		Group:       g,
		PublicKey:   e.PublicKey.Big(),
	}, nil
}

// slots is the number of encrypted slots of question i (the blank slot included).
func (q *Question) slots() int {
	if q.Blank {
		return len(q.Answers) + 1
	}
	return len(q.Answers)
}
