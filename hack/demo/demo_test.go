package main

import "testing"

// TestDemo runs the README's first command end to end, stopping at once: the sample
// must be accepted and provisioned by the controller, and the invalid one refused
// (run returns an error otherwise).
func TestDemo(t *testing.T) {
	if err := run("demo-test", true); err != nil {
		t.Fatal(err)
	}
}
