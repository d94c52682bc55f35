//go:build race

package engine

// raceEnabled shrinks connection counts under the race detector (its per-goroutine cost);
// the code under test is the same.
const raceEnabled = true
