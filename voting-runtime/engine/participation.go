package engine

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/spreadsheet"
)

// WriteParticipation writes the scrutineers' export as CSV: who voted, never how,
// with only the columns the Election allows. There is no column that could hold a
// credential or a code: ParticipationField has none.
//
// Every cell goes through spreadsheet.Cell: one that a spreadsheet would read as a
// formula (starting with =, +, -, @, a tab or a carriage return: a name such as
// =HYPERLINK(...), and every phone number, E.164 starting with +) or that starts
// with a single quote is written with a single quote before it, so that a
// spreadsheet reads text. A program reading the file drops a leading single quote
// from a cell to get the value.
func (en *Engine) WriteParticipation(ctx context.Context, w io.Writer) error {
	rows, err := en.st.Participation(ctx)
	if err != nil {
		return errorf("reading participation", err)
	}
	fields := en.e.Spec.Scrutineers.ExportFields
	cw := csv.NewWriter(w)
	header := make([]string, len(fields))
	for i, f := range fields {
		header[i] = columnName(f)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	record := make([]string, len(fields))
	for _, r := range rows {
		for i, f := range fields {
			switch f {
			case scrutinv1.FieldVoterID:
				record[i] = r.Voter.ID
			case scrutinv1.FieldName:
				record[i] = r.Voter.Name
			case scrutinv1.FieldEmail:
				record[i] = r.Voter.Email
			case scrutinv1.FieldPhone:
				record[i] = r.Voter.Phone
			case scrutinv1.FieldWeight:
				record[i] = strconv.FormatInt(r.Voter.Weight, 10)
			case scrutinv1.FieldVoted:
				record[i] = strconv.FormatBool(r.Voted)
			case scrutinv1.FieldVotedByProxy:
				record[i] = strconv.FormatBool(r.ByProxy)
			}
		}
		for i := range record {
			record[i] = spreadsheet.Cell(record[i])
		}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func columnName(f scrutinv1.ParticipationField) string {
	switch f {
	case scrutinv1.FieldVoterID:
		return "voter_id"
	case scrutinv1.FieldName:
		return "name"
	case scrutinv1.FieldEmail:
		return "email"
	case scrutinv1.FieldPhone:
		return "phone"
	case scrutinv1.FieldWeight:
		return "weight"
	case scrutinv1.FieldVotedByProxy:
		return "voted_by_proxy"
	default:
		return "voted"
	}
}
