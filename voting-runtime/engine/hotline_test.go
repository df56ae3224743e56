package engine

import (
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// TestDeliveryStatusFoldsTheStoresCounts: the store's counts by channel, kind
// and state become the Election's status.delivery: codes and letters summed per
// channel and state, withdrawn messages left out, channels in order, and the
// oldest queued message across channels and kinds (not the oldest sent one).
func TestDeliveryStatusFoldsTheStoresCounts(t *testing.T) {
	t0 := time.Date(2027, 3, 14, 9, 0, 0, 0, time.UTC)
	got := deliveryStatus([]store.DeliveryCount{
		{Channel: "sms", Kind: store.KindCode, State: store.DeliveryQueued, N: 2, OldestCreatedAt: t0.Add(5 * time.Minute)},
		{Channel: "sms", Kind: store.KindCode, State: store.DeliveryDelivered, N: 7, OldestCreatedAt: t0.Add(-time.Hour)},
		{Channel: "sms", Kind: store.KindCode, State: store.DeliveryBounced, N: 1},
		{Channel: "mail", Kind: store.KindCredential, State: store.DeliveryQueued, N: 100, OldestCreatedAt: t0.Add(time.Minute)},
		{Channel: "mail", Kind: store.KindCode, State: store.DeliveryQueued, N: 3, OldestCreatedAt: t0.Add(2 * time.Minute)},
		{Channel: "mail", Kind: store.KindCredential, State: store.DeliverySent, N: 139000, OldestCreatedAt: t0.Add(-2 * time.Hour)},
		{Channel: "mail", Kind: store.KindCode, State: store.DeliverySent, N: 40},
		{Channel: "mail", Kind: store.KindCredential, State: store.DeliveryFailed, N: 12},
		{Channel: "mail", Kind: store.KindCredential, State: store.DeliveryWithdrawn, N: 5, OldestCreatedAt: t0.Add(-3 * time.Hour)},
	})
	want := []scrutinv1.ChannelDelivery{
		{Channel: "mail", Queued: 103, Sent: 139040, Failed: 12},
		{Channel: "sms", Queued: 2, Delivered: 7, Bounced: 1},
	}
	if len(got.Channels) != len(want) {
		t.Fatalf("channels %+v, want %+v", got.Channels, want)
	}
	for i := range want {
		if got.Channels[i] != want[i] {
			t.Errorf("channel %d: %+v, want %+v", i, got.Channels[i], want[i])
		}
	}
	if got.OldestQueuedAt == nil || !got.OldestQueuedAt.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("oldestQueuedAt %v, want %v", got.OldestQueuedAt, t0.Add(time.Minute))
	}

	none := deliveryStatus([]store.DeliveryCount{{Channel: "mail", Kind: store.KindCode, State: store.DeliverySent, N: 4}})
	if none.OldestQueuedAt != nil || len(none.Channels) != 1 || none.Channels[0].Sent != 4 {
		t.Errorf("nothing queued: %+v", none)
	}
	if empty := deliveryStatus(nil); len(empty.Channels) != 0 || empty.OldestQueuedAt != nil {
		t.Errorf("no message: %+v", empty)
	}
}

// TestRequestedByMustNameSomeone: a resend names who asked, in printable
// characters, at most 256 of them.
func TestRequestedByMustNameSomeone(t *testing.T) {
	for _, ok := range []string{"agent@example.org", "system:serviceaccount:hotline:desk", "Émilie Dupré"} {
		if err := checkRequestedBy(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	long := make([]byte, 257)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "agent\nforged-line", "agent\x00", string(long), "\xff\xfe"} {
		if err := checkRequestedBy(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
