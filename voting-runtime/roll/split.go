package roll

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxPartBytes is the size of the parts Split makes by default: under
// the 1 MiB limit of a Secret, with room for its metadata.
const DefaultMaxPartBytes = 900_000

// Split cuts a roll in CSV into parts of at most maxPartBytes bytes, for
// rolls larger than one Secret holds. Every part starts with the roll's
// header line (and whatever precedes it: a byte order mark, blank lines), then
// whole records copied byte for byte: a cut is only ever made between two
// records, never inside a quoted field, even one spanning lines. Split calls
// emit with each part in order, index counting from 1; the part's bytes are
// only valid during the call. A roll with no voter line still gives one part.
//
// Split checks only what it needs to cut: that the input is not a
// spreadsheet or UTF-16 text, that the header reads as CSV, and that no record
// is too large for a part (the error names its line). The parts are checked
// with a Validator.
func Split(r io.Reader, maxPartBytes int, emit func(index int, part []byte) error) error {
	s, err := newScanner(r)
	if err != nil {
		return err
	}
	header, err := s.header()
	if err != nil {
		return err
	}
	if len(header) > maxPartBytes {
		return fmt.Errorf("the header is larger than a part of %d bytes", maxPartBytes)
	}
	part := make([]byte, 0, min(maxPartBytes, 1<<20))
	part = append(part, header...)
	index, records := 1, 0
	for {
		rec, line, err := s.record()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(header)+len(rec) > maxPartBytes {
			return fmt.Errorf("line %d: the record is larger than a part of %d bytes, with the header", line, maxPartBytes)
		}
		if len(part)+len(rec) > maxPartBytes {
			if err := emit(index, part); err != nil {
				return err
			}
			index++
			part = append(part[:0], header...)
		}
		part = append(part, rec...)
		records++
	}
	return emit(index, part)
}

// Join returns the whole roll from its parts, in order: the first part as it
// is, then each other part without its header, which must be byte for byte
// the first part's (reading fails, naming the part, when it is not). Joining
// what Split made gives back records byte for byte as in the input.
func Join(parts ...io.Reader) io.Reader {
	return &joiner{parts: parts}
}

type joiner struct {
	parts  []io.Reader
	n      int // parts started
	header []byte
	cur    io.Reader
	err    error
}

func (j *joiner) Read(p []byte) (int, error) {
	for j.err == nil {
		if j.cur == nil {
			if j.n == len(j.parts) {
				j.err = io.EOF
				break
			}
			j.cur, j.err = j.start(j.n)
			j.n++
			continue
		}
		n, err := j.cur.Read(p)
		if err == io.EOF {
			j.cur = nil
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, j.err
}

// start opens part i: the first whole, then the others after their header.
func (j *joiner) start(i int) (io.Reader, error) {
	s, err := newScanner(j.parts[i])
	if err != nil {
		return nil, fmt.Errorf("part %d of the roll: %w", i+1, err)
	}
	header, err := s.header()
	if err != nil {
		return nil, fmt.Errorf("part %d of the roll: %w", i+1, err)
	}
	if i == 0 {
		j.header = bytes.Clone(header)
		return io.MultiReader(bytes.NewReader(j.header), s.rest()), nil
	}
	if !bytes.Equal(header, j.header) {
		return nil, fmt.Errorf("part %d of the roll: its header differs from the first part's", i+1)
	}
	return s.rest(), nil
}

// PartsDigest returns "sha256:" and the hex SHA-256 of the parts' bytes
// concatenated in order, as spec.voterRoll.digest of an Election gives it
// (`cat part-*.csv | sha256sum`).
func PartsDigest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// scanner finds the raw bytes of each CSV record, reading as the Validator
// does (same CSV options, so the same record boundaries): csv.Reader reads
// through a recorder that keeps the bytes not yet handed out.
type scanner struct {
	src  *bufio.Reader
	rec  *recorder
	cr   *csv.Reader
	used int64 // input offset (after any byte order mark) of the bytes handed out
	bom  bool
}

// recorder keeps every byte read through it until they are dropped.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (t *recorder) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

var errNotCSV = errors.New("not a CSV file: save the roll as CSV UTF-8")

func newScanner(r io.Reader) (*scanner, error) {
	br := bufio.NewReader(r)
	start, _ := br.Peek(len(oleMagic))
	s := &scanner{src: br}
	switch {
	case bytes.HasPrefix(start, utf8BOM):
		_, _ = br.Discard(len(utf8BOM))
		s.bom = true
	case bytes.HasPrefix(start, utf16LEBOM), bytes.HasPrefix(start, utf16BEBOM),
		bytes.HasPrefix(start, zipMagic), bytes.HasPrefix(start, oleMagic):
		return nil, errNotCSV
	}
	s.rec = &recorder{r: br}
	s.cr = csv.NewReader(s.rec)
	s.cr.FieldsPerRecord = -1
	s.cr.TrimLeadingSpace = true
	s.cr.ReuseRecord = true
	return s, nil
}

// take hands out the bytes up to the end of the last record read.
func (s *scanner) take() []byte {
	end := s.cr.InputOffset()
	n := int(end - s.used)
	out := s.rec.buf[:n:n]
	s.rec.buf = s.rec.buf[n:]
	s.used = end
	return out
}

// header returns the bytes up to the end of the first non-blank record (the
// byte order mark included), or all of them when there is none.
func (s *scanner) header() ([]byte, error) {
	var h []byte
	if s.bom {
		h = append(h, utf8BOM...)
	}
	for {
		rec, err := s.cr.Read()
		if err == io.EOF {
			return append(h, s.take()...), nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: the header is not valid CSV", pe.StartLine)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the voter roll: %w", err)
		}
		h = append(h, s.take()...)
		if !blankRecord(rec) {
			return h, nil
		}
	}
}

// record returns the raw bytes of the next record, and the line it starts on.
// CSV syntax errors are not errors here: the record's bytes are kept as they
// are, for the Validator to report.
func (s *scanner) record() ([]byte, int, error) {
	_, err := s.cr.Read()
	var pe *csv.ParseError
	line := 0
	switch {
	case err == io.EOF:
		if rest := s.take(); len(rest) > 0 {
			// Only blank lines were left: they belong to the last part.
			return rest, 0, nil
		}
		return nil, 0, io.EOF
	case errors.As(err, &pe):
		line = pe.StartLine
	case err != nil:
		return nil, 0, fmt.Errorf("reading the voter roll: %w", err)
	default:
		line, _ = s.cr.FieldPos(0)
	}
	return s.take(), line, nil
}

// rest returns the bytes after the last record read, as they are.
func (s *scanner) rest() io.Reader {
	return io.MultiReader(bytes.NewReader(s.rec.buf), s.src)
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
