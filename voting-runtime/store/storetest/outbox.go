package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Dumper shows the database as someone holding a dump of it would see it
// (pg_dump's output; the SQLite file, checkpointed), for leak scans.
type Dumper interface {
	Dump(t *testing.T) []byte
}

// sealed is a message's sealed content, unique and findable in a dump.
func sealed() []byte {
	return []byte("SEALED-" + rand.Text() + "-END")
}

// message is a queued message for voter on channel, worth sending for an hour.
func message(voter, kind, channel string) store.OutboxMessage {
	return store.OutboxMessage{VoterID: voter, Kind: kind, Channel: channel, Sealed: sealed(),
		NotAfter: time.Now().Add(time.Hour)}
}

func enqueue(t *testing.T, s store.Store, msgs ...store.OutboxMessage) []int64 {
	t.Helper()
	ids, err := s.Enqueue(t.Context(), msgs...)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if len(ids) != len(msgs) {
		t.Fatalf("Enqueue returned %d ids for %d messages", len(ids), len(msgs))
	}
	return ids
}

func claim(t *testing.T, s store.Store, channel string, limit int, lease time.Duration) []store.OutboxMessage {
	t.Helper()
	msgs, err := s.Claim(t.Context(), channel, limit, lease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return msgs
}

func finish(t *testing.T, s store.Store, id int64, attempt int, o store.OutboxOutcome) bool {
	t.Helper()
	ok, err := s.Finish(t.Context(), id, attempt, o)
	if err != nil {
		t.Fatalf("Finish(%d, %d): %v", id, attempt, err)
	}
	return ok
}

// delivery is message id of voter as Deliveries lists it.
func delivery(t *testing.T, s store.Store, voter string, id int64) store.OutboxMessage {
	t.Helper()
	ms, err := s.Deliveries(t.Context(), voter, 1000)
	if err != nil {
		t.Fatalf("Deliveries(%s): %v", voter, err)
	}
	for _, m := range ms {
		if m.Sealed != nil {
			t.Errorf("Deliveries(%s) shows message %d's sealed content", voter, m.ID)
		}
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("Deliveries(%s) does not list message %d", voter, id)
	return store.OutboxMessage{}
}

var sent = store.OutboxOutcome{State: store.DeliverySent}

func testOutboxEnqueueAndDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, c := message("v1", store.KindCredential, store.ChannelMail), message("v2", store.KindCode, store.ChannelSMS),
		message("v1", store.KindCode, store.ChannelMail)
	ids := enqueue(t, s, a, b, c)
	if !slices.IsSorted(ids) || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("Enqueue ids %v: want them increasing in the messages' order", ids)
	}
	ms, err := s.Deliveries(ctx, "v1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != ids[2] || ms[1].ID != ids[0] {
		t.Fatalf("Deliveries(v1) = %+v; want messages %d then %d", ms, ids[2], ids[0])
	}
	for i, want := range []store.OutboxMessage{c, a} {
		m := ms[i]
		if m.Sealed != nil || m.VoterID != "v1" || m.Kind != want.Kind || m.Channel != want.Channel ||
			m.State != store.DeliveryQueued || m.Attempts != 0 || m.CreatedAt.IsZero() || m.NextAt.IsZero() ||
			!m.NotAfter.Equal(want.NotAfter.Truncate(time.Microsecond)) {
			t.Errorf("Deliveries(v1)[%d] = %+v; want a queued %s %s, without its content", i, m, want.Kind, want.Channel)
		}
	}
	if ms, _ := s.Deliveries(ctx, "v1", 1); len(ms) != 1 || ms[0].ID != ids[2] {
		t.Errorf("Deliveries(v1, limit 1) = %+v; want the newest only", ms)
	}
	if ms, _ := s.Deliveries(ctx, "nobody", 10); len(ms) != 0 {
		t.Errorf("Deliveries(nobody) = %+v", ms)
	}
	bad := message("v1", store.KindCode, "pigeon")
	if _, err := s.Enqueue(ctx, a, bad); err == nil {
		t.Error("Enqueue accepted a message on an unknown channel")
	}
	if ms, _ := s.Deliveries(ctx, "v1", 10); len(ms) != 2 {
		t.Errorf("a refused Enqueue stored %d messages of v1, want still 2", len(ms)-2)
	}
}

// testOutboxClaimNeverTwice claims 400 mail messages from 16 goroutines on two
// Stores (two processes, when the store can be reopened), in small batches,
// until none is left: each message comes out exactly once, and no SMS.
func testOutboxClaimNeverTwice(t *testing.T, s store.Store) {
	const n = 400
	var msgs []store.OutboxMessage
	for i := range n {
		msgs = append(msgs, message(fmt.Sprintf("v%03d", i), store.KindCode, store.ChannelMail))
	}
	for i := range 50 {
		msgs = append(msgs, message(fmt.Sprintf("s%03d", i), store.KindCode, store.ChannelSMS))
	}
	enqueue(t, s, msgs...)
	stores := []store.Store{s, s}
	if r, ok := s.(Reopener); ok {
		stores[1] = r.Reopen(t)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	claimed := 0 // in all: a store that hands messages out again stops the test at 2n
	errs := parallel(16, func(i int) error {
		for {
			got, err := stores[i%2].Claim(t.Context(), store.ChannelMail, 7, time.Hour)
			if err != nil {
				return err
			}
			mu.Lock()
			claimed += len(got)
			if len(got) == 0 || claimed >= 2*n {
				mu.Unlock()
				return nil
			}
			for _, m := range got {
				seen[m.ID]++
				if m.Channel != store.ChannelMail || m.Attempts != 1 || len(m.Sealed) == 0 {
					t.Errorf("claimed %+v: want a mail message, attempt 1, with its content", m)
				}
			}
			mu.Unlock()
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
	}
	if len(seen) != n {
		t.Errorf("%d messages claimed, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("message %d claimed %d times while leased", id, k)
		}
	}
	if got := claim(t, s, store.ChannelMail, 10, time.Hour); len(got) != 0 {
		t.Errorf("Claim after every message was leased returned %d", len(got))
	}
	if got := claim(t, s, store.ChannelSMS, 100, time.Hour); len(got) != 50 {
		t.Errorf("Claim(sms) returned %d, want the 50 SMS", len(got))
	}
}

// testOutboxLeaseRunsOut: a message whose worker never finished is claimed again
// once its lease has run out, with the same content; the first worker's Finish
// then records nothing.
func testOutboxLeaseRunsOut(t *testing.T, s store.Store) {
	m := message("v1", store.KindCode, store.ChannelMail)
	id := enqueue(t, s, m)[0]
	const lease = time.Second
	first := claim(t, s, store.ChannelMail, 10, lease)
	if len(first) != 1 || first[0].ID != id || first[0].Attempts != 1 || !bytes.Equal(first[0].Sealed, m.Sealed) {
		t.Fatalf("Claim = %+v; want message %d, attempt 1, with its content", first, id)
	}
	if got := claim(t, s, store.ChannelMail, 10, lease); len(got) != 0 {
		t.Fatalf("Claim during the lease returned %+v", got)
	}
	var again []store.OutboxMessage
	for deadline := time.Now().Add(30 * time.Second); len(again) == 0 && time.Now().Before(deadline); {
		time.Sleep(lease / 4)
		again = claim(t, s, store.ChannelMail, 10, time.Hour)
	}
	if len(again) != 1 || again[0].ID != id || again[0].Attempts != 2 {
		t.Fatalf("Claim after the lease = %+v; want message %d again, attempt 2", again, id)
	}
	if !bytes.Equal(again[0].Sealed, m.Sealed) {
		t.Error("the message claimed again carries different content")
	}
	if finish(t, s, id, 1, sent) {
		t.Error("Finish by the worker whose lease ran out was recorded")
	}
	if d := delivery(t, s, "v1", id); d.State != store.DeliveryQueued || d.Attempts != 2 {
		t.Errorf("after a stale Finish: %+v; want still queued, 2 attempts", d)
	}
	if !finish(t, s, id, 2, sent) {
		t.Fatal("Finish by the current worker was not recorded")
	}
	if d := delivery(t, s, "v1", id); d.State != store.DeliverySent || d.UpdatedAt.IsZero() {
		t.Errorf("after Finish(sent): %+v; want sent", d)
	}
	if finish(t, s, id, 2, store.OutboxOutcome{State: store.DeliveryFailed, Reason: "late"}) {
		t.Error("a second Finish of a sent message was recorded")
	}
	if got := claim(t, s, store.ChannelMail, 10, lease); len(got) != 0 {
		t.Errorf("Claim returned a sent message: %+v", got)
	}
}

// testOutboxRetry: a message finished as queued again is claimed at RetryAt, not
// before, with the same content.
func testOutboxRetry(t *testing.T, s store.Store) {
	later, now := message("v1", store.KindCode, store.ChannelSMS), message("v2", store.KindCode, store.ChannelSMS)
	ids := enqueue(t, s, later, now)
	got := claim(t, s, store.ChannelSMS, 10, time.Hour)
	if len(got) != 2 {
		t.Fatalf("Claim = %d messages, want 2", len(got))
	}
	if !finish(t, s, ids[0], 1, store.OutboxOutcome{State: store.DeliveryQueued, Reason: "sms-throttled",
		RetryAt: time.Now().Add(time.Hour)}) {
		t.Fatal("Finish(retry in an hour) not recorded")
	}
	if !finish(t, s, ids[1], 1, store.OutboxOutcome{State: store.DeliveryQueued, Reason: "sms-timeout"}) {
		t.Fatal("Finish(retry now) not recorded")
	}
	again := claim(t, s, store.ChannelSMS, 10, time.Hour)
	if len(again) != 1 || again[0].ID != ids[1] || again[0].Attempts != 2 || !bytes.Equal(again[0].Sealed, now.Sealed) {
		t.Fatalf("Claim after the retries = %+v; want message %d, attempt 2, same content", again, ids[1])
	}
	d := delivery(t, s, "v1", ids[0])
	if d.State != store.DeliveryQueued || d.Reason != "sms-throttled" || d.NextAt.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("the message retried in an hour: %+v", d)
	}
	if _, err := s.Finish(t.Context(), ids[1], 2, store.OutboxOutcome{State: store.DeliveryWithdrawn}); err == nil {
		t.Error("Finish accepted the outcome withdrawn")
	}
}

// testOutboxExpired: a queued message past its NotAfter is failed "expired" by
// the next Claim instead of being returned, and erased.
func testOutboxExpired(t *testing.T, s store.Store) {
	old := message("v1", store.KindCode, store.ChannelMail)
	old.NotAfter = time.Now().Add(-time.Second)
	fresh := message("v2", store.KindCode, store.ChannelMail)
	ids := enqueue(t, s, old, fresh)
	got := claim(t, s, store.ChannelMail, 10, time.Hour)
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("Claim = %+v; want only the message still worth sending", got)
	}
	if d := delivery(t, s, "v1", ids[0]); d.State != store.DeliveryFailed || d.Reason != "expired" || d.Attempts != 0 {
		t.Errorf("the expired message: %+v; want failed, expired, never attempted", d)
	}
	if finish(t, s, ids[0], 0, sent) {
		t.Error("Finish recorded an expired message as sent")
	}
	checkErased(t, s, []store.OutboxMessage{old}, []store.OutboxMessage{fresh})
}

// testOutboxWithdraw withdraws a voter's queued credential letters: not their
// code, not a sent letter, not another voter's; a withdrawn message's worker
// records nothing.
func testOutboxWithdraw(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1, l2 := message("v1", store.KindCredential, store.ChannelMail), message("v1", store.KindCredential, store.ChannelMail)
	code, done := message("v1", store.KindCode, store.ChannelMail), message("v1", store.KindCredential, store.ChannelSMS)
	other := message("v2", store.KindCredential, store.ChannelMail)
	ids := enqueue(t, s, l1, l2, code, done, other)
	got := claim(t, s, store.ChannelSMS, 10, time.Hour)
	if len(got) != 1 || !finish(t, s, ids[3], 1, sent) {
		t.Fatal("could not send the SMS letter")
	}
	leased := claim(t, s, store.ChannelMail, 1, time.Hour) // l1, being sent
	if len(leased) != 1 || leased[0].ID != ids[0] {
		t.Fatalf("Claim = %+v; want message %d", leased, ids[0])
	}
	n, err := s.Withdraw(ctx, "v1", store.KindCredential)
	if err != nil || n != 2 {
		t.Fatalf("Withdraw = %d, %v; want 2", n, err)
	}
	for i, want := range []store.DeliveryState{store.DeliveryWithdrawn, store.DeliveryWithdrawn,
		store.DeliveryQueued, store.DeliverySent} {
		if d := delivery(t, s, "v1", ids[i]); d.State != want {
			t.Errorf("message %d: %s, want %s", i, d.State, want)
		}
	}
	if d := delivery(t, s, "v2", ids[4]); d.State != store.DeliveryQueued {
		t.Errorf("another voter's letter: %s, want queued", d.State)
	}
	if finish(t, s, ids[0], 1, sent) {
		t.Error("Finish recorded a withdrawn message as sent")
	}
	if n, err := s.Withdraw(ctx, "v1", store.KindCredential); err != nil || n != 0 {
		t.Errorf("Withdraw again = %d, %v; want 0", n, err)
	}
	got = claim(t, s, store.ChannelMail, 10, time.Hour)
	if len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[4] {
		t.Errorf("Claim after Withdraw = %+v; want the code and the other voter's letter", got)
	}
	checkErased(t, s, []store.OutboxMessage{l1, l2, done}, []store.OutboxMessage{code, other})
}

// testOutboxReport records what a gateway said of sent messages.
func testOutboxReport(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := enqueue(t, s, message("v1", store.KindCode, store.ChannelSMS), message("v1", store.KindCode, store.ChannelSMS),
		message("v1", store.KindCode, store.ChannelSMS))
	if err := s.Report(ctx, ids[0], store.DeliveryDelivered, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Report of a message never attempted: %v, want ErrNotFound", err)
	}
	claim(t, s, store.ChannelSMS, 2, time.Hour)
	finish(t, s, ids[0], 1, sent)
	if err := s.Report(ctx, ids[0], store.DeliveryDelivered, ""); err != nil {
		t.Fatalf("Report(delivered): %v", err)
	}
	if d := delivery(t, s, "v1", ids[0]); d.State != store.DeliveryDelivered {
		t.Errorf("after Report(delivered): %s", d.State)
	}
	// The gateway may report before the worker records the send.
	if err := s.Report(ctx, ids[1], store.DeliveryBounced, "sms-unknown-subscriber"); err != nil {
		t.Fatalf("Report(bounced) of a message being sent: %v", err)
	}
	if d := delivery(t, s, "v1", ids[1]); d.State != store.DeliveryBounced || d.Reason != "sms-unknown-subscriber" {
		t.Errorf("after Report(bounced): %+v", d)
	}
	if finish(t, s, ids[1], 1, sent) {
		t.Error("Finish overwrote the gateway's report")
	}
	if err := s.Report(ctx, ids[0], store.DeliverySent, ""); err == nil {
		t.Error("Report accepted the state sent")
	}
	if err := s.Report(ctx, 1<<40, store.DeliveryDelivered, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Report of no message: %v, want ErrNotFound", err)
	}
}

// testDeliveryCounts counts by channel, kind and state, with the oldest message.
func testDeliveryCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	if cs, err := s.DeliveryCounts(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("DeliveryCounts of an empty outbox = %+v, %v", cs, err)
	}
	ids := enqueue(t, s, message("v1", store.KindCredential, store.ChannelMail),
		message("v2", store.KindCredential, store.ChannelMail), message("v3", store.KindCredential, store.ChannelMail),
		message("v1", store.KindCode, store.ChannelSMS))
	time.Sleep(2 * time.Millisecond)
	enqueue(t, s, message("v4", store.KindCredential, store.ChannelMail))
	claim(t, s, store.ChannelMail, 1, time.Hour)
	finish(t, s, ids[0], 1, sent)
	cs, err := s.DeliveryCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range cs {
		got[c.Channel+"/"+c.Kind+"/"+string(c.State)] = c.N
		if c.Channel == store.ChannelMail && c.State == store.DeliveryQueued {
			if want := delivery(t, s, "v2", ids[1]).CreatedAt; !c.OldestCreatedAt.Equal(want) {
				t.Errorf("oldest queued mail letter created %v, want %v", c.OldestCreatedAt, want)
			}
		}
	}
	want := map[string]int64{"mail/credential/sent": 1, "mail/credential/queued": 3, "sms/code/queued": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DeliveryCounts = %v, want %v", got, want)
	}
}

// testOutboxErasesSealed: a dump taken after sending, failing and withdrawing
// holds no byte of those messages' content (and does hold a queued one's: the
// scan sees what it looks for).
func testOutboxErasesSealed(t *testing.T, s store.Store) {
	var msgs []store.OutboxMessage
	for i := range 6 {
		msgs = append(msgs, message(fmt.Sprintf("v%d", i), store.KindCredential, store.ChannelMail))
	}
	ids := enqueue(t, s, msgs...)
	claim(t, s, store.ChannelMail, 4, time.Hour)
	finish(t, s, ids[0], 1, sent)
	finish(t, s, ids[1], 1, store.OutboxOutcome{State: store.DeliveryFailed, Reason: "smtp-5xx-mailbox"})
	finish(t, s, ids[2], 1, sent)
	must(t, s.Report(t.Context(), ids[2], store.DeliveryBounced, "smtp-bounce"))
	if _, err := s.Withdraw(t.Context(), "v4", store.KindCredential); err != nil {
		t.Fatal(err)
	}
	// ids[3]: leased, not finished; ids[5]: queued
	checkErased(t, s, []store.OutboxMessage{msgs[0], msgs[1], msgs[2], msgs[4]}, []store.OutboxMessage{msgs[3], msgs[5]})
}

// checkErased scans a dump, if the store gives one: none of gone's content is in
// it, all of kept's is.
func checkErased(t *testing.T, s store.Store, gone, kept []store.OutboxMessage) {
	t.Helper()
	d, ok := s.(Dumper)
	if !ok {
		t.Log("the store gives no dump: erasure not scanned")
		return
	}
	dump := d.Dump(t)
	for _, m := range gone {
		if inDump(dump, m.Sealed) {
			t.Errorf("the dump holds the content of %s's %s, which is no longer queued", m.VoterID, m.Kind)
		}
	}
	for _, m := range kept {
		if !inDump(dump, m.Sealed) {
			t.Errorf("the dump does not hold the content of %s's queued %s: the scan is blind", m.VoterID, m.Kind)
		}
	}
}

// inDump tells whether b is in dump, as bytes or as hex (PostgreSQL's bytea output).
func inDump(dump, b []byte) bool {
	return bytes.Contains(dump, b) || bytes.Contains(dump, []byte(hex.EncodeToString(b)))
}

// testOutboxClaimOldestFirst: Claim takes at most limit messages, the oldest
// first, and only of its channel.
func testOutboxClaimOldestFirst(t *testing.T, s store.Store) {
	var msgs []store.OutboxMessage
	for i := range 5 {
		msgs = append(msgs, message(fmt.Sprintf("v%d", i), store.KindCode, store.ChannelMail))
	}
	ids := enqueue(t, s, msgs...)
	enqueue(t, s, message("s", store.KindCode, store.ChannelSMS))
	for _, want := range [][]int64{ids[:2], ids[2:4], ids[4:], nil} {
		got := claim(t, s, store.ChannelMail, 2, time.Hour)
		var gotIDs []int64
		for _, m := range got {
			gotIDs = append(gotIDs, m.ID)
		}
		if !slices.Equal(gotIDs, want) {
			t.Errorf("Claim(limit 2) = %v, want %v", gotIDs, want)
		}
	}
	if _, err := s.Claim(t.Context(), store.ChannelSMS, 1, 0); err == nil {
		t.Error("Claim accepted a lease of 0")
	}
}

// testOutboxFinishConcurrently: outcomes recorded at once, as a process's
// delivery workers record them (the stores commit them together), are each
// recorded once: every claimed message its own outcome, a second outcome for a
// message already finished refused, a stale attempt's outcome refused.
func testOutboxFinishConcurrently(t *testing.T, s store.Store) {
	const n = 60
	var msgs []store.OutboxMessage
	for i := range n {
		msgs = append(msgs, message(fmt.Sprintf("v%03d", i), store.KindCode, store.ChannelSMS))
	}
	enqueue(t, s, msgs...)
	got := claim(t, s, store.ChannelSMS, n, time.Hour)
	if len(got) != n {
		t.Fatalf("claimed %d, want %d", len(got), n)
	}
	// each message finished twice at once (sent, and failed for good), and once
	// with a stale attempt: exactly one outcome per message is recorded
	type call struct {
		m       store.OutboxMessage
		attempt int
		out     store.OutboxOutcome
	}
	var calls []call
	for i, m := range got {
		sent := store.OutboxOutcome{State: store.DeliverySent}
		failed := store.OutboxOutcome{State: store.DeliveryFailed, Reason: "refused"}
		if i%2 == 1 {
			sent, failed = failed, sent
		}
		calls = append(calls, call{m, m.Attempts, sent}, call{m, m.Attempts, failed}, call{m, m.Attempts - 1, sent})
	}
	oks := make([]bool, len(calls))
	errs := parallel(len(calls), func(i int) error {
		var err error
		oks[i], err = s.Finish(t.Context(), calls[i].m.ID, calls[i].attempt, calls[i].out)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Finish %d: %v", i, err)
		}
	}
	recorded := map[int64]int{}
	for i, c := range calls {
		if oks[i] {
			recorded[c.m.ID]++
			if c.attempt != c.m.Attempts {
				t.Errorf("message %d: a stale attempt's outcome was recorded", c.m.ID)
			}
		}
	}
	for _, m := range got {
		if recorded[m.ID] != 1 {
			t.Errorf("message %d: %d outcomes recorded, want 1", m.ID, recorded[m.ID])
		}
	}
}
