package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/records"
)

// WriteRecords writes the election's records archive (package records) once it
// is tallied: results, board trackers, audit log and head, the participation
// export with the columns the Election allows and, in verifiable mode, the
// Belenios board. Before the tally it returns ErrNotTallied. The same store
// gives the same bytes.
func (en *Engine) WriteRecords(ctx context.Context, w io.Writer) error {
	state, err := en.st.State(ctx)
	if err != nil {
		return errorf("reading the state", err)
	}
	if !state.Closed || state.Results == nil {
		return ErrNotTallied
	}
	entries, err := en.st.AuditLog(ctx)
	if err != nil {
		return errorf("reading the audit log", err)
	}
	if len(entries) == 0 {
		return errors.New("the audit log is empty")
	}
	head := entries[len(entries)-1].Hash
	trackers, err := en.Board(ctx)
	if err != nil {
		return err
	}
	results, err := en.Results(ctx)
	if err != nil {
		return err
	}
	members := []records.Member{
		{Name: records.ResultsName, Write: jsonMember(results)},
		{Name: records.BoardName, Write: jsonMember(map[string]any{"trackers": nonNil(trackers)})},
		{Name: records.AuditLogName, Write: func(w io.Writer) error { return audit.WriteLog(w, entries) }},
		{Name: records.AuditHeadName, Write: func(w io.Writer) error { _, err := io.WriteString(w, head+"\n"); return err }},
		{Name: records.ParticipationName, Write: func(w io.Writer) error { return en.WriteParticipation(ctx, w) }},
	}
	if en.Verifiable() {
		members = append(members, records.Member{Name: records.BeleniosName, Write: func(w io.Writer) error { return en.WriteBoard(ctx, w) }})
	}
	el := records.Election{
		Namespace: en.e.Namespace, Name: en.e.Name, UID: string(en.e.UID), Title: en.e.Spec.Title,
		Verifiable: en.Verifiable(), ClosedAt: en.scheduleOf(state).ClosesAt,
	}
	return records.Write(w, el, head, members)
}

func jsonMember(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
