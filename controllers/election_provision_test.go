package controllers

import (
	"context"
	"fmt"
	"net"
	"testing"

	"scrutin.dev/scrutin/internal/specs"
)

func TestEgressEndpointsTrimSecretValues(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	in.Delivery = map[string][]byte{"smtp.host": []byte("192.0.2.7\n"), "smtp.port": []byte("2525\n"), "sms.url": []byte("https://198.51.100.3:8443/send\n")}
	eps := (&ElectionReconciler{Resolver: net.DefaultResolver}).egressEndpoints(context.Background(), in)
	want := []specs.Endpoint{{CIDR: "192.0.2.7/32", Port: 2525}, {CIDR: "198.51.100.3/32", Port: 8443}}
	if fmt.Sprint(eps) != fmt.Sprint(want) {
		t.Errorf("endpoints %v, want %v (a Secret value ending in a newline is common)", eps, want)
	}
}
