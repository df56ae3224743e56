package controllers

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// setDelivery copies the runtime's delivery counts into status.delivery and sets
// the Delivered condition: True (AllSent) when nothing waits and nothing failed,
// False while messages wait (Sending) or when some failed (SomeFailed), with the
// counts. A runtime that reports none leaves both as they were.
func (r *ElectionReconciler) setDelivery(e *scrutinv1.Election, d *scrutinv1.DeliveryStatus) {
	if d == nil {
		return
	}
	e.Status.Delivery = d.DeepCopy()
	queued, failed := deliveryTotals(d)
	counts := describeDelivery(d)
	switch {
	case failed > 0:
		setCondition(e, scrutinv1.ConditionDelivered, metav1.ConditionFalse, scrutinv1.ReasonSomeFailed,
			fmt.Sprintf("%d message(s) failed for good: those voters got no code or letter (%s); "+
				"`kubectl scrutin delivery` lists them, `kubectl scrutin resend` sends again", failed, counts))
	case queued > 0:
		msg := fmt.Sprintf("%d message(s) waiting to be sent (%s)", queued, counts)
		if d.OldestQueuedAt != nil {
			msg += "; the oldest queued at " + d.OldestQueuedAt.UTC().Format(time.RFC3339)
		}
		setCondition(e, scrutinv1.ConditionDelivered, metav1.ConditionFalse, scrutinv1.ReasonSending, msg)
	default:
		setCondition(e, scrutinv1.ConditionDelivered, metav1.ConditionTrue, scrutinv1.ReasonAllSent,
			fmt.Sprintf("every message sent (%s)", counts))
	}
}

// deliveryTotals are the messages waiting and failed, over every channel.
func deliveryTotals(d *scrutinv1.DeliveryStatus) (queued, failed int64) {
	if d == nil {
		return 0, 0
	}
	for _, c := range d.Channels {
		queued += c.Queued
		failed += c.Failed
	}
	return queued, failed
}

// describeDelivery is e.g. "mail: 10 queued, 120 sent, 2 failed, 0 delivered, 1 bounced".
func describeDelivery(d *scrutinv1.DeliveryStatus) string {
	if len(d.Channels) == 0 {
		return "no message yet"
	}
	parts := make([]string, 0, len(d.Channels))
	for _, c := range d.Channels {
		parts = append(parts, fmt.Sprintf("%s: %d queued, %d sent, %d failed, %d delivered, %d bounced",
			c.Channel, c.Queued, c.Sent, c.Failed, c.Delivered, c.Bounced))
	}
	return strings.Join(parts, "; ")
}
