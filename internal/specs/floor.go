package specs

import (
	"fmt"
	"sort"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Pre-scaling: the autoscaler reacts to load after it has arrived, while a peak
// builds in minutes and a new pod takes seconds to minutes to serve. So the
// controller raises the HPA's minReplicas ahead of what it knows is coming (the
// opening, the peaks the organisers announce) and lowers it after.

const (
	// defaultPreScaleLead and defaultPeakDuration repeat the API's defaults, for
	// Elections that were not defaulted by the API server.
	defaultPreScaleLead = 10 * time.Minute
	defaultPeakDuration = time.Hour
	// openingDuration is how long the opening's floor holds after opensAt.
	openingDuration = time.Hour
)

// floorWindow is a span of time during which the voting pods' floor is raised.
type floorWindow struct {
	what     string    // "the opening", "the peak"
	at       time.Time // when the surge is expected
	from, to time.Time // [from, to): from preScaleLead before at, never past closesAt
	replicas int32     // capped at maxReplicas
}

// floorWindows are the opening's window (when openingMinReplicas is set) and one per
// announced peak. After closesAt nobody votes: no floor is held past it.
func floorWindows(spec *scrutinv1.ElectionSpec) []floorWindow {
	s := spec.Scaling
	lead := defaultPreScaleLead
	if s.PreScaleLead != nil {
		lead = s.PreScaleLead.Duration
	}
	closes := spec.Schedule.ClosesAt.Time
	capped := func(n int32) int32 {
		if s.MaxReplicas > 0 {
			return min(n, s.MaxReplicas)
		}
		return n
	}
	var ws []floorWindow
	add := func(what string, at time.Time, d time.Duration, n int32) {
		w := floorWindow{what: what, at: at, from: at.Add(-lead), to: at.Add(d), replicas: capped(n)}
		if !closes.IsZero() && w.to.After(closes) {
			w.to = closes
		}
		if w.to.After(w.from) {
			ws = append(ws, w)
		}
	}
	if s.OpeningMinReplicas != nil {
		add("the opening", spec.Schedule.OpensAt.Time, openingDuration, *s.OpeningMinReplicas)
	}
	for _, p := range s.Peaks {
		d := defaultPeakDuration
		if p.Duration != nil {
			d = p.Duration.Duration
		}
		add("the peak", p.At.Time, d, p.MinReplicas)
	}
	return ws
}

// floorAt is the floor at t and the window that sets it (nil when it is
// spec.scaling.minReplicas): the highest floor of the windows containing t; between
// equal floors, the earliest surge.
func floorAt(base int32, ws []floorWindow, t time.Time) (int32, *floorWindow) {
	n, by := base, (*floorWindow)(nil)
	for i := range ws {
		w := &ws[i]
		if t.Before(w.from) || !t.Before(w.to) {
			continue
		}
		switch {
		case w.replicas > n:
			n, by = w.replicas, w
		case w.replicas == n && by != nil && w.at.Before(by.at):
			by = w
		}
	}
	return n, by
}

// EffectiveMinReplicas is the HPA's minReplicas at now: spec.scaling.minReplicas, or
// the highest floor of the opening and peak windows that contain now, capped at
// maxReplicas. reason says which window sets it, in words for an Event ("ahead of
// the peak at 12:00 UTC"), empty when none does; next is when the value changes
// next (zero when it never does), for the controller to be there.
func EffectiveMinReplicas(spec *scrutinv1.ElectionSpec, now time.Time) (replicas int32, reason string, next time.Time) {
	ws := floorWindows(spec)
	replicas, by := floorAt(spec.Scaling.MinReplicas, ws, now)
	if by != nil {
		verb := "for"
		if now.Before(by.at) {
			verb = "ahead of"
		}
		reason = fmt.Sprintf("%s %s at %s", verb, by.what, clockTime(by.at, now))
	}
	var bounds []time.Time
	for _, w := range ws {
		for _, b := range []time.Time{w.from, w.to} {
			if b.After(now) {
				bounds = append(bounds, b)
			}
		}
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i].Before(bounds[j]) })
	for _, b := range bounds {
		if n, _ := floorAt(spec.Scaling.MinReplicas, ws, b); n != replicas {
			return replicas, reason, b
		}
	}
	return replicas, reason, time.Time{}
}

// clockTime writes t for people: "12:00 UTC" on now's day, with the date otherwise.
func clockTime(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04 MST")
	}
	return t.Format("2006-01-02 15:04 MST")
}

// FloorChange says in words why the floor went from was to now, for an Event.
func FloorChange(spec *scrutinv1.ElectionSpec, now time.Time, was, n int32, reason string) (eventReason, note string) {
	if reason == "" && n < was {
		// The window that held the floor at was has just ended: name it.
		var ended *floorWindow
		ws := floorWindows(spec)
		for i := range ws {
			w := &ws[i]
			if !w.to.After(now) && w.replicas == was && (ended == nil || w.to.After(ended.to)) {
				ended = w
			}
		}
		if ended != nil {
			reason = fmt.Sprintf("after %s at %s", ended.what, clockTime(ended.at, now))
		}
	}
	if reason != "" {
		reason = " " + reason
	}
	if n > was {
		return scrutinv1.EventMinReplicasRaised, fmt.Sprintf("Raised the voting pods' floor to %d%s (was %d)", n, reason, was)
	}
	return scrutinv1.EventMinReplicasLowered, fmt.Sprintf("Lowered the voting pods' floor to %d%s (was %d)", n, reason, was)
}
