package roll

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ProxyLine is a proxy of the organiser's list (spec.proxies.secretRef's
// proxies.csv): Grantor gives their vote to Holder, on Line of the file.
type ProxyLine struct {
	Grantor, Holder string
	Line            int
}

// ProxyLineError is a line of the organiser's list that is not a proxy at
// all (the file is refused): it names the line, never its values.
type ProxyLineError struct {
	Line   int
	Reason string
}

func (e *ProxyLineError) Error() string {
	return fmt.Sprintf("proxies.csv line %d: %s", e.Line, e.Reason)
}

// ParseProxies reads the organiser's list: a header naming the columns grantor
// and holder (in any order, other columns ignored), then a proxy a line. A
// line that is not CSV, or lacks an id, refuses the file (ProxyLineError); a
// line whose ids are unknown, a chain, over the cap or a second proxy of its
// grantor is refused alone, by the runtime's store when it declares them.
func ParseProxies(data []byte) ([]ProxyLine, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ProxyLineError{Line: 1, Reason: "the file is empty: a header line grantor,holder is expected"}
	}
	if err != nil {
		return nil, csvLineError(err)
	}
	grantor, holder := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "grantor":
			grantor = i
		case "holder":
			holder = i
		}
	}
	if grantor < 0 || holder < 0 {
		return nil, &ProxyLineError{Line: 1, Reason: "the header must name the columns grantor and holder"}
	}
	var ps []ProxyLine
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return ps, nil
		}
		if err != nil {
			return nil, csvLineError(err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) <= max(grantor, holder) {
			return nil, &ProxyLineError{Line: line, Reason: fmt.Sprintf("%d columns, the header has %d", len(rec), len(header))}
		}
		p := ProxyLine{Grantor: strings.TrimSpace(rec[grantor]), Holder: strings.TrimSpace(rec[holder]), Line: line}
		switch {
		case p.Grantor == "":
			return nil, &ProxyLineError{Line: line, Reason: "the grantor's voter id is empty"}
		case p.Holder == "":
			return nil, &ProxyLineError{Line: line, Reason: "the holder's voter id is empty"}
		}
		ps = append(ps, p)
	}
}

func csvLineError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ProxyLineError{Line: pe.Line, Reason: pe.Err.Error()}
	}
	return err
}
