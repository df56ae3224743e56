package records

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// maxMember bounds a member read back (a board of about 14 kB a ballot: some
// 70,000 ballots).
const maxMember = 1 << 30

// Archive is an archive read back: its manifest and its members' bytes.
type Archive struct {
	Manifest Manifest
	Members  map[string][]byte
}

// Read reads an archive written by Write. It checks its layout only (manifest
// first, no member twice); Verify checks what it holds.
func Read(r io.Reader) (*Archive, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip file: %w", err)
	}
	tr := tar.NewReader(gz)
	a := &Archive{Members: map[string][]byte{}}
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("member %s is not a regular file", h.Name)
		}
		if _, dup := a.Members[h.Name]; dup {
			return nil, fmt.Errorf("member %s appears twice", h.Name)
		}
		if i == 0 && h.Name != ManifestName {
			return nil, fmt.Errorf("the first member is %s, not %s", h.Name, ManifestName)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxMember+1))
		if err != nil {
			return nil, fmt.Errorf("while reading %s: %w", h.Name, err)
		}
		if len(data) > maxMember {
			return nil, fmt.Errorf("member %s is larger than %d bytes", h.Name, maxMember)
		}
		a.Members[h.Name] = data
	}
	raw, ok := a.Members[ManifestName]
	if !ok {
		return nil, errors.New("the archive is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if a.Manifest.Format != Format {
		return nil, fmt.Errorf("%s: format %q, not %q", ManifestName, a.Manifest.Format, Format)
	}
	return a, nil
}

// Report is what Verify checked.
type Report struct {
	Members      int
	AuditEntries int
	AuditHead    string
	Trackers     int
	// Belenios is the board's verification report, in verifiable mode.
	Belenios *belenios.Report
}

// Verify checks an archive offline: every member is listed in the manifest
// with its size and digest, and none is missing or extra; the audit log is an
// unbroken chain ending at the head the manifest and audit-head.txt give; and
// in verifiable mode the Belenios board verifies (belenios.Verify).
func (a *Archive) Verify() (*Report, error) {
	rep := &Report{}
	listed := map[string]bool{ManifestName: true}
	for _, e := range a.Manifest.Members {
		data, ok := a.Members[e.Name]
		switch {
		case !ok:
			return rep, fmt.Errorf("member %s, listed in the manifest, is missing", e.Name)
		case listed[e.Name]:
			return rep, fmt.Errorf("member %s is listed twice", e.Name)
		case int64(len(data)) != e.Size:
			return rep, fmt.Errorf("member %s is %d bytes, the manifest says %d", e.Name, len(data), e.Size)
		case Digest(data) != e.SHA256:
			return rep, fmt.Errorf("member %s does not match its digest in the manifest (%s)", e.Name, e.SHA256)
		}
		listed[e.Name] = true
	}
	for name := range a.Members {
		if !listed[name] {
			return rep, fmt.Errorf("member %s is not listed in the manifest", name)
		}
	}
	rep.Members = len(a.Manifest.Members)
	for _, name := range []string{ResultsName, BoardName, AuditLogName, AuditHeadName, ParticipationName} {
		if !listed[name] {
			return rep, fmt.Errorf("member %s is missing", name)
		}
	}

	head := strings.TrimSpace(string(a.Members[AuditHeadName]))
	if head != a.Manifest.AuditHead {
		return rep, fmt.Errorf("%s says %s, the manifest %s", AuditHeadName, head, a.Manifest.AuditHead)
	}
	entries, err := audit.ReadLog(bytes.NewReader(a.Members[AuditLogName]))
	if err != nil {
		return rep, fmt.Errorf("%s: %w", AuditLogName, err)
	}
	if head == "" {
		return rep, errors.New("the archive gives no audit head")
	}
	if err := audit.Verify(entries, head); err != nil {
		return rep, fmt.Errorf("the audit log does not check: %w", err)
	}
	rep.AuditEntries, rep.AuditHead = len(entries), head

	var board struct {
		Trackers []string `json:"trackers"`
	}
	if err := json.Unmarshal(a.Members[BoardName], &board); err != nil {
		return rep, fmt.Errorf("%s: %w", BoardName, err)
	}
	rep.Trackers = len(board.Trackers)

	bel, ok := a.Members[BeleniosName]
	switch {
	case a.Manifest.Election.Verifiable && !ok:
		return rep, fmt.Errorf("the election is verifiable but the archive has no %s", BeleniosName)
	case !a.Manifest.Election.Verifiable && ok:
		return rep, fmt.Errorf("the election is not verifiable but the archive has a %s", BeleniosName)
	case ok:
		br, err := belenios.Verify(bytes.NewReader(bel))
		rep.Belenios = br
		if err != nil {
			return rep, fmt.Errorf("the Belenios board does not verify: %w", err)
		}
	}
	return rep, nil
}
