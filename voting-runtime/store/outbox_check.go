package store

import (
	"errors"
	"fmt"
)

// Check tells whether a message can be enqueued: a known kind and channel, a
// voter, and a NotAfter.
func (m OutboxMessage) Check() error {
	switch {
	case m.VoterID == "":
		return errors.New("a message needs a voter id")
	case m.Kind != KindCode && m.Kind != KindCredential && m.Kind != KindNotice:
		return fmt.Errorf("unknown message kind %q", m.Kind)
	case m.Channel != ChannelMail && m.Channel != ChannelSMS:
		return fmt.Errorf("unknown channel %q", m.Channel)
	case m.NotAfter.IsZero():
		return errors.New("a message needs a NotAfter")
	}
	return nil
}

// Check tells whether an outcome can be recorded by Finish: sent, failed, or
// queued again.
func (o OutboxOutcome) Check() error {
	switch o.State {
	case DeliverySent, DeliveryFailed, DeliveryQueued:
		return nil
	}
	return fmt.Errorf("an attempt cannot end %q", o.State)
}
