package main

import "testing"

func TestCheckFlat(t *testing.T) {
	warm := []float64{10, 50, 100, 101, 99, 100, 102, 100, 101, 100, 99, 103}
	cases := []struct {
		name    string
		samples []float64
		tol     float64
		slack   float64
		ok      bool
	}{
		{"flat after warm-up", warm, 0.10, 0, true},
		{"within 10%", []float64{1, 1, 100, 100, 100, 100, 108, 109, 109}, 0.10, 0, true},
		{"leak of 2% a sample", []float64{100, 102, 104, 106, 108, 110, 112, 114, 116, 118, 120, 122, 124, 126, 128, 130, 132, 134, 136, 138}, 0.10, 0, false},
		{"one spike at the end is a median's outlier", []float64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 500}, 0.10, 0, true},
		{"shrinking is flat", []float64{200, 200, 200, 200, 150, 150, 120, 120}, 0.10, 0, true},
		{"small counts: slack", []float64{5, 5, 5, 5, 6, 7, 7, 7}, 0.10, 2, true},
		{"small counts over the slack", []float64{5, 5, 5, 5, 6, 9, 9, 9}, 0.10, 2, false},
		{"too few samples to judge", []float64{1, 1, 1, 1, 1, 1, 1}, 0.10, 0, false},
	}
	for _, c := range cases {
		f := checkFlat(c.name, c.samples, c.tol, c.slack)
		if f.OK != c.ok {
			t.Errorf("%s: checkFlat = %v; want ok %v", c.name, f, c.ok)
		}
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median(3,1,2) = %v; want 2", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median(4,1,3,2) = %v; want 2.5", m)
	}
}
