package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// refusal is the API server refusing an object, one line per field it named.
type refusal struct {
	what   string // "the Election board-2027"
	fields []fieldProblem
	other  string // the message, when no field is named apart
	cause  error
}

type fieldProblem struct {
	field, message, flag string
}

func (r *refusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the API server refused %s:", r.what)
	for _, f := range r.fields {
		b.WriteString("\n  ")
		b.WriteString(f.field)
		if f.flag != "" {
			b.WriteString(" (" + f.flag + ")")
		}
		b.WriteString(": ")
		b.WriteString(f.message)
	}
	if r.other != "" {
		b.WriteString("\n  ")
		b.WriteString(r.other)
	}
	return b.String()
}

func (r *refusal) Unwrap() error { return r.cause }

// explainRefusal turns an Invalid or Forbidden answer of the API server into a
// refusal naming each field (and the flag that sets it); other errors pass through.
func explainRefusal(err error, what string, flags func(field string) string) error {
	var st apierrors.APIStatus
	if err == nil || !errors.As(err, &st) || !(apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err)) {
		return err
	}
	s := st.Status()
	r := &refusal{what: what, cause: err}
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			if c.Field == "" {
				continue
			}
			fp := fieldProblem{field: c.Field, message: cleanCause(c.Message)}
			if flags != nil {
				fp.flag = flags(c.Field)
			}
			r.fields = append(r.fields, fp)
		}
	}
	if len(r.fields) == 0 {
		msg := s.Message
		// Admission policies answer "...: ValidatingAdmissionPolicy ... denied request: spec.x: ...".
		if i := strings.Index(msg, "denied request: "); i >= 0 {
			msg = msg[i+len("denied request: "):]
		}
		if field, rest, ok := strings.Cut(msg, ": "); ok && fieldPath.MatchString(field) {
			fp := fieldProblem{field: field, message: rest}
			if flags != nil {
				fp.flag = flags(field)
			}
			r.fields = append(r.fields, fp)
		} else {
			r.other = msg
		}
	}
	return r
}

var fieldPath = regexp.MustCompile(`^(metadata|spec|status|data)(\.[A-Za-z0-9]+|\[[0-9]+\]|\[[^\]]*\])*$`)

// cleanCause drops the placeholder value CEL rules report for a whole object:
// `Invalid value: "object": must be after opensAt` says "must be after opensAt".
func cleanCause(msg string) string {
	rest, ok := strings.CutPrefix(msg, "Invalid value: ")
	if !ok {
		return msg
	}
	for _, p := range []string{`"object": `, `"string": `, `"array": `} {
		if r, ok := strings.CutPrefix(rest, p); ok {
			return r
		}
	}
	// A rule's message without the value: "Invalid value: must be after opensAt".
	if rest != "" && !strings.ContainsRune(`"'[{-0123456789`, rune(rest[0])) {
		return rest
	}
	return msg
}

// createFlag names the `create` flag that sets an Election field.
func createFlag(field string) string {
	field = strings.TrimPrefix(field, "spec.")
	if m := questionIndex.FindStringSubmatch(field); m != nil {
		n, _ := strconv.Atoi(m[1])
		return fmt.Sprintf("--question #%d", n+1)
	}
	for _, p := range []struct{ prefix, flag string }{
		{"metadata.name", "NAME"},
		{"title", "--title"},
		{"organization", "--organization"},
		{"schedule.opensAt", "--opens"},
		{"schedule.closesAt", "--closes"},
		{"schedule", "--opens/--closes"},
		{"questions", "--question"},
		{"voterRoll", "--roll-secret"},
		{"authentication.method", "--method"},
		{"delivery.smtp", "--smtp-secret"},
		{"delivery.sms", "--sms-secret"},
		{"store.postgreSQL", "--postgres-admin-secret"},
		{"store", "--store"},
		{"scaling", "--replicas"},
		{"data", "--roll"},
	} {
		if field == p.prefix || strings.HasPrefix(field, p.prefix+".") || strings.HasPrefix(field, p.prefix+"[") {
			return p.flag
		}
	}
	return ""
}

var questionIndex = regexp.MustCompile(`^questions\[([0-9]+)\]`)

// scheduleFlag names the flag of open/close/extend that sets a schedule field.
func scheduleFlag(field string) string {
	switch field {
	case "spec.schedule.closesAt":
		return "closing time"
	case "spec.schedule.opensAt":
		return "opening time"
	}
	return ""
}
