package ballot

import (
	"fmt"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Error is a ballot that cannot be accepted, with the reason in plain words
// for the voter. It never repeats what the voter sent: Question is the id of
// a question of the Election, or "" when the problem is with the ballot as a
// whole (Decode's errors, an unknown question), and Reason names at most an
// option id of that question.
type Error struct {
	Question string
	Reason   string
}

// Error returns e.g. "question council: choose at most 3 options".
func (e *Error) Error() string {
	if e.Question == "" {
		return e.Reason
	}
	return "question " + e.Question + ": " + e.Reason
}

// Reasons. None of them may ever include what the voter sent, except ids
// found in the Election.
const (
	reasonTooLarge          = "the ballot is too large"
	reasonNotUTF8           = "the ballot is not valid UTF-8 text"
	reasonNotJSON           = "the ballot is not valid JSON"
	reasonShape             = "the ballot must be a JSON object giving, for each question id, the list of option ids chosen"
	reasonNotString         = "an answer must be a list of option ids, each a string"
	reasonDuplicateQuestion = "the ballot answers the same question more than once"
	reasonUnknownQuestion   = "unknown question: the ballot answers a question that is not in this election"
	reasonNotAnswered       = "not answered: the ballot must answer every question"
	reasonBlankNotAllowed   = "an answer is required: this question does not accept a blank vote"
	reasonUnknownOption     = "unknown option: the answer names an option that this question does not have"
	reasonUnknownKind       = "this question cannot be answered: its kind is not supported"
)

// reasonDuplicateOption names the option, an id of the Election.
func reasonDuplicateOption(kind scrutinv1.QuestionKind, option string) string {
	return fmt.Sprintf("option %s is %s more than once", option, pastVerb(kind))
}

func reasonTooFew(kind scrutinv1.QuestionKind, min int) string {
	return fmt.Sprintf("%s at least %s", verb(kind), options(min))
}

func reasonTooMany(kind scrutinv1.QuestionKind, max int) string {
	if max == 1 {
		return verb(kind) + " only one option"
	}
	return fmt.Sprintf("%s at most %s", verb(kind), options(max))
}

func verb(kind scrutinv1.QuestionKind) string {
	if kind == scrutinv1.Ranked {
		return "rank"
	}
	return "choose"
}

func pastVerb(kind scrutinv1.QuestionKind) string {
	if kind == scrutinv1.Ranked {
		return "ranked"
	}
	return "chosen"
}

func options(n int) string {
	if n == 1 {
		return "1 option"
	}
	return fmt.Sprintf("%d options", n)
}
