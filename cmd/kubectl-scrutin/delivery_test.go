package main

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestDeliveryShowsCountsUnreachableAndTheCondition: `kubectl scrutin delivery
// NAME` says what the Election's status says of delivery: the counts per
// channel and state, the oldest queued message, the unreachable voters and the
// Delivered condition, in words and in -o json.
func TestDeliveryShowsCountsUnreachableAndTheCondition(t *testing.T) {
	tenant := newTenant(t)
	e := election(t, tenant, "congress", -time.Minute, time.Hour, scrutinv1.PhaseOpen)

	// Before the controller reports anything.
	r := kubectlScrutin(t, tenant, "delivery", "congress")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "nothing reported", r.stdout, "Messages: none recorded yet", "Unreachable voters: not reported yet.", "Delivered: not reported yet.")

	oldest := metav1.NewTime(time.Now().Add(-7 * time.Minute).Truncate(time.Second))
	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Roll = &scrutinv1.RollStatus{Parts: 11, Unreachable: 37, UnreachableLines: []scrutinv1.RollLine{
			{Part: "congress-roll-0003", Line: 17}, {Part: "congress-roll-0009", Line: 4242}}}
		s.Delivery = &scrutinv1.DeliveryStatus{
			Channels: []scrutinv1.ChannelDelivery{
				{Channel: "mail", Queued: 1200, Sent: 138712, Failed: 51, Delivered: 0, Bounced: 0},
				{Channel: "sms", Queued: 3, Sent: 40, Failed: 2, Delivered: 35, Bounced: 1},
			},
			OldestQueuedAt: &oldest,
		}
		s.Conditions = append(s.Conditions, cond(scrutinv1.ConditionDelivered, metav1.ConditionFalse, scrutinv1.ReasonSending,
			"1203 messages wait to be sent, 54 failed"))
	})
	r = kubectlScrutin(t, tenant, "delivery", "congress")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stdout", r.stdout,
		"CHANNEL", "QUEUED", "BOUNCED",
		"mail", "1200", "138712", "51",
		"sms", "35",
		"Oldest message waiting: queued", "(7m ago)",
		"Unreachable voters: 37, whom the roll gives no e-mail address",
		"kubectl scrutin roll check lists their lines",
		"Secret congress-roll-0003, line 17", "Secret congress-roll-0009, line 4242", "and 35 more",
		"Delivered: False: 1203 messages wait to be sent, 54 failed",
		"54 message(s) failed or bounced")

	r = kubectlScrutin(t, tenant, "delivery", "congress", "-o", "json")
	var got deliveryReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("-o json: exit %d, %v: %s", r.code, err, r.stdout)
	}
	if len(got.Channels) != 2 || got.Channels[0].Sent != 138712 || got.Channels[1].Bounced != 1 ||
		got.Unreachable == nil || *got.Unreachable != 37 || len(got.UnreachableLines) != 2 || got.Delivered != "False" || got.OldestQueuedAt == nil ||
		!got.OldestQueuedAt.Equal(oldest.Time) {
		t.Errorf("-o json: %+v", got)
	}

	setStatus(t, e, func(s *scrutinv1.ElectionStatus) {
		s.Roll.Unreachable, s.Roll.UnreachableLines = 0, nil
		s.Delivery = &scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: 140000}}}
		for i := range s.Conditions {
			if s.Conditions[i].Type == scrutinv1.ConditionDelivered {
				s.Conditions[i] = cond(scrutinv1.ConditionDelivered, metav1.ConditionTrue, scrutinv1.ReasonAllSent, "140000 messages sent")
			}
		}
	})
	r = kubectlScrutin(t, tenant, "delivery", "congress")
	mustContain(t, "all sent", r.stdout, "140000", "Unreachable voters: none", "Delivered: yes")
	mustNotContain(t, "all sent", r.stdout, "Oldest message waiting", "failed or bounced")
}
