package load

import (
	"math"
	"sort"
	"time"
)

// Arrivals says when each simulated voter starts: offsets from the start of the
// run, in increasing order.
type Arrivals []time.Duration

// Constant spreads voters evenly at rate per second for d.
func Constant(rate float64, d time.Duration) Arrivals {
	n := int(rate * d.Seconds())
	out := make(Arrivals, n)
	for i := range out {
		out[i] = time.Duration(float64(i) / rate * float64(time.Second))
	}
	return out
}

// Day is the shape of an election day's arrivals between 08:00 and 20:00: a
// baseline all day, a morning rise, the noon peak (the one that broke the 2021
// congress vote) and an evening return after work. The weights are the share of
// voters in each part.
var Day = []Bump{
	{Hour: 14, Width: 6, Weight: 0.15, Flat: true},
	{Hour: 10.5, Width: 1, Weight: 0.20},
	{Hour: 12.5, Width: 0.6, Weight: 0.45},
	{Hour: 18.5, Width: 1, Weight: 0.20},
}

// Bump is one part of a day's curve: a normal curve centred on Hour with standard
// deviation Width hours, or, Flat, a constant over Hour±Width.
type Bump struct {
	Hour, Width, Weight float64
	Flat                bool
}

const dayStart, dayEnd = 8.0, 20.0

func density(h float64, bumps []Bump) float64 {
	var d float64
	for _, b := range bumps {
		if b.Flat {
			if math.Abs(h-b.Hour) <= b.Width {
				d += b.Weight / (2 * b.Width)
			}
			continue
		}
		z := (h - b.Hour) / b.Width
		d += b.Weight * math.Exp(-z*z/2) / (b.Width * math.Sqrt(2*math.Pi))
	}
	return d
}

// Curve spreads n voters over an election day compressed into d, following bumps:
// voter i starts at the (i+½)/n quantile of the day's distribution, so the same
// arguments give the same arrivals. It also returns the peak arrival rate, per
// second of the compressed day.
func Curve(n int, d time.Duration, bumps []Bump) (Arrivals, float64) {
	const steps = 12 * 600 // every 6 s of the day
	cum := make([]float64, steps+1)
	peak := 0.0
	for i := 1; i <= steps; i++ {
		h := dayStart + (dayEnd-dayStart)*(float64(i)-0.5)/steps
		f := density(h, bumps)
		peak = max(peak, f)
		cum[i] = cum[i-1] + f
	}
	total := cum[steps]
	out := make(Arrivals, n)
	for i := range out {
		q := (float64(i) + 0.5) / float64(n) * total
		k := sort.SearchFloat64s(cum, q) // cum[k-1] < q <= cum[k]
		frac := (q - cum[k-1]) / (cum[k] - cum[k-1])
		out[i] = time.Duration((float64(k-1) + frac) / steps * float64(d))
	}
	// the busiest step's share of voters, over that step's length in the run
	peakRate := float64(n) * peak / total * steps / d.Seconds()
	return out, peakRate
}
