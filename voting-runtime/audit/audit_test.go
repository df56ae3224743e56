package audit

import (
	"strings"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
)

func chain() []store.AuditEntry {
	return Chain(0, Genesis, []store.AuditRecord{
		{Kind: "roll-imported", Data: []byte(`{"digest":"sha256:ab","voters":3}`)},
		{Kind: "opened", Data: []byte(`{}`)},
		{Kind: "ballot", Data: []byte("0f1e")},
		{Kind: "ballot", Data: []byte("7a7a")},
		{Kind: "closed", Data: []byte(`{"ballots":2}`)},
	})
}

func TestVerify(t *testing.T) {
	good := chain()
	head := good[len(good)-1].Hash
	tests := map[string]struct {
		tamper func([]store.AuditEntry) []store.AuditEntry
		head   string
		want   string // "" when it must verify
	}{
		"intact":                  {func(e []store.AuditEntry) []store.AuditEntry { return e }, head, ""},
		"intact, no head given":   {func(e []store.AuditEntry) []store.AuditEntry { return e }, "", ""},
		"a ballot's data changed": {func(e []store.AuditEntry) []store.AuditEntry { e[2].Data = []byte("0f1f"); return e }, head, "entry 3 (ballot) was altered"},
		"an entry removed":        {func(e []store.AuditEntry) []store.AuditEntry { return append(e[:3], e[4:]...) }, head, "sequence number"},
		"two entries swapped":     {func(e []store.AuditEntry) []store.AuditEntry { e[2], e[3] = e[3], e[2]; return e }, head, "sequence number"},
		"the last entry cut":      {func(e []store.AuditEntry) []store.AuditEntry { return e[:4] }, head, "not at the published head"},
		"rehashed after a change": {func(e []store.AuditEntry) []store.AuditEntry {
			return Chain(0, Genesis, append(records(e[:2]), store.AuditRecord{Kind: "ballot", Data: []byte("ffff")}))
		}, head, "not at the published head"},
		"empty log, genesis head": {func([]store.AuditEntry) []store.AuditEntry { return nil }, Genesis, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := Verify(tc.tamper(chain()), tc.head)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("want it to verify, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
}

func records(entries []store.AuditEntry) []store.AuditRecord {
	var r []store.AuditRecord
	for _, e := range entries {
		r = append(r, store.AuditRecord{Kind: e.Kind, Data: e.Data})
	}
	return r
}
