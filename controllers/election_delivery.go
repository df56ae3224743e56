package controllers

import (
	"fmt"
	"strings"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// setDelivery copies the runtime's delivery counts into status.delivery, and
// notes them for the Delivered condition (deliveredCondition). A runtime that
// reports none leaves both as they were.
func setDelivery(in *Inputs, d *scrutinv1.DeliveryStatus) {
	if d == nil {
		return
	}
	in.Election.Status.Delivery = d.DeepCopy()
	in.observed.delivery = d
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
