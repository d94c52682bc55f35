package perf

import (
	"os"
	"testing"
	"time"
)

func TestParseStatusRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tnginx\nVmPeak:\t  100 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n"
	got, err := parseStatusRSS([]byte(status))
	if err != nil || got != 12345*1024 {
		t.Fatalf("parseStatusRSS = %d, %v; want %d, nil", got, err, 12345*1024)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Fatal("parseStatusRSS without VmRSS = nil error; want an error")
	}
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// The command name holds spaces and a ')' to prove fields count from the last ')'.
	stat := "4242 (nginx: w) rk) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0 100 0 0\n"
	got, err := parseStatCPU([]byte(stat))
	if want := 4 * time.Second; err != nil || got != want {
		t.Fatalf("parseStatCPU = %v, %v; want %v, nil", got, err, want)
	}
}

func TestSampleSelf(t *testing.T) {
	t.Parallel()
	s, err := SampleProcs([]int{os.Getpid()})
	if err != nil || s.RSSBytes <= 0 {
		t.Fatalf("SampleProcs(self) = %+v, %v; want positive RSS", s, err)
	}
	if s, err := SampleProcs(nil); err != nil || s != (ProcSample{}) {
		t.Fatalf("SampleProcs(nil) = %+v, %v; want zero, nil", s, err)
	}
}
