package main

import (
	"fmt"
	"slices"
)

// Flat is the verdict on one sampled figure: the median of the samples'
// second quarter against the median of the last quarter. A figure that
// leaks grows from one to the other; one that is flat stays within the
// tolerance (a fraction of the second quarter's median, or an absolute
// slack for small counts such as goroutines, whichever is larger).
type Flat struct {
	Name   string
	Q2, Q4 float64 // medians of the second and the last quarter
	Limit  float64 // the most Q4 may be
	OK     bool
}

func (f Flat) String() string {
	verdict := "flat"
	if !f.OK {
		verdict = "GROWING"
	}
	return fmt.Sprintf("%s: second-quarter median %.0f, last-quarter median %.0f (limit %.0f): %s", f.Name, f.Q2, f.Q4, f.Limit, verdict)
}

// checkFlat judges samples taken at a steady interval. Fewer than 8
// samples cannot be split into quarters of two: not flat, so a soak too
// short to judge says so.
func checkFlat(name string, samples []float64, tolerance, slack float64) Flat {
	f := Flat{Name: name}
	n := len(samples)
	if n < 8 {
		f.Limit = -1
		return f
	}
	f.Q2 = median(samples[n/4 : n/2])
	f.Q4 = median(samples[n-n/4:])
	f.Limit = f.Q2 + max(f.Q2*tolerance, slack)
	f.OK = f.Q4 <= f.Limit
	return f
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
