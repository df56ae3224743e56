package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// testAuditEmpty: an empty log has no entries and its head is audit.Genesis.
func testAuditEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	head, err := s.AuditHead(ctx)
	if err != nil || head != audit.Genesis {
		t.Errorf("AuditHead of an empty log = %q, %v; want audit.Genesis", head, err)
	}
	log, err := s.AuditLog(ctx)
	if err != nil || len(log) != 0 {
		t.Errorf("AuditLog = %+v, %v; want empty", log, err)
	}
	if es, err := s.AppendAudit(ctx); err != nil || len(es) != 0 {
		t.Errorf("AppendAudit() = %+v, %v; want nothing", es, err)
	}
}

func testAuditAppend(t *testing.T, s store.Store) {
	ctx := t.Context()
	var appended []store.AuditEntry
	for _, batch := range [][]store.AuditRecord{
		{{Kind: "roll-imported", Data: []byte(`{"digest":"d"}`)}, {Kind: "opened", Data: []byte(`{}`)}, {Kind: "ballot", Data: []byte(`"t1"`)}},
		{{Kind: "ballot", Data: []byte(`"t2"`)}},
		{{Kind: "closed", Data: []byte(`{}`)}, {Kind: "tallied", Data: []byte(`{"yes":2}`)}},
	} {
		es, err := s.AppendAudit(ctx, batch...)
		must(t, err)
		if len(es) != len(batch) {
			t.Fatalf("AppendAudit of %d records returned %d entries", len(batch), len(es))
		}
		for i, e := range es {
			if e.Kind != batch[i].Kind || !bytes.Equal(e.Data, batch[i].Data) {
				t.Errorf("entry %d is %s %s, want %s %s", e.Seq, e.Kind, e.Data, batch[i].Kind, batch[i].Data)
			}
		}
		appended = append(appended, es...)
	}
	log, err := s.AuditLog(ctx)
	must(t, err)
	head, err := s.AuditHead(ctx)
	must(t, err)
	if len(log) != 6 || head != log[len(log)-1].Hash {
		t.Fatalf("%d entries, head %s; want 6, the last entry's hash", len(log), head)
	}
	if err := audit.Verify(log, head); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for i, e := range log {
		a := appended[i]
		if e.Seq != a.Seq || e.Kind != a.Kind || !bytes.Equal(e.Data, a.Data) || e.PrevHash != a.PrevHash || e.Hash != a.Hash {
			t.Errorf("log entry %d = %+v, but AppendAudit returned %+v", i+1, e, a)
		}
	}
}

// testAuditConcurrent appends from 8 goroutines at once: the chain stays whole.
func testAuditConcurrent(t *testing.T, s store.Store) {
	const goroutines, rounds = 8, 5
	errs := parallel(goroutines, func(g int) error {
		for r := range rounds {
			_, err := s.AppendAudit(t.Context(),
				store.AuditRecord{Kind: "ballot", Data: fmt.Appendf(nil, `"g%d-r%d-a"`, g, r)},
				store.AuditRecord{Kind: "ballot", Data: fmt.Appendf(nil, `"g%d-r%d-b"`, g, r)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("AppendAudit: %v", err)
		}
	}
	log, err := s.AuditLog(t.Context())
	must(t, err)
	head, err := s.AuditHead(t.Context())
	must(t, err)
	if len(log) != goroutines*rounds*2 {
		t.Errorf("%d entries, want %d", len(log), goroutines*rounds*2)
	}
	if err := audit.Verify(log, head); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// Each call's two records are adjacent: an append is one transaction.
	for i := 0; i+1 < len(log); i += 2 {
		a, b := string(log[i].Data), string(log[i+1].Data)
		if a[:len(a)-3] != b[:len(b)-3] {
			t.Errorf("entries %d and %d (%s, %s) come from different appends", i+1, i+2, a, b)
		}
	}
}
