package controllers

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestDatabaseDSNNoPortScanner: the tenant's admin DSN makes the manager connect
// wherever it points. An Election whose DSN points at a closed port and one whose
// DSN points at a server that is not PostgreSQL (it answers with a banner) get the
// same fixed Ready message and event, holding none of the remote's words nor its
// address: the Election tells its tenant nothing of what listens where the
// manager can reach.
func TestDatabaseDSNNoPortScanner(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	const banner = "HTTP/1.1 400 Bad Request\r\nServer: InternalAdmin-Canary/2.4\r\n\r\nInternalAdmin-Canary says no"
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(banner))
			c.Close()
		}
	}()
	otherPort := other.Addr().(*net.TCPAddr).Port

	ns := newTenant(t)
	messages := map[string]string{}
	for name, port := range map[string]int{"closedport": closedPort, "notpostgres": otherPort} {
		e := create(t, postgresElection(t, ns, name, "postgres://scrutin:pw@127.0.0.1:"+strconv.Itoa(port)+"/postgres?connect_timeout=2"))
		waitFor(t, name+": Ready=False DatabaseUnreachable", 30*time.Second, func() (bool, string) {
			c := condition(getElection(t, e), scrutinv1.ConditionReady)
			messages[name] = c.Message
			return c.Reason == "DatabaseUnreachable", fmt.Sprintf("%+v", c)
		})
		var events eventsv1.EventList
		if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		texts := []string{messages[name]}
		for _, ev := range events.Items {
			if ev.Regarding.Name == name {
				texts = append(texts, ev.Note)
			}
		}
		for _, text := range texts {
			for _, word := range []string{"Canary", "HTTP", "400", "127.0.0.1", strconv.Itoa(port), "refused", "EOF", "dial", "body length"} {
				if strings.Contains(text, word) {
					t.Errorf("%s: the Election shows %q of the remote: %s", name, word, text)
				}
			}
		}
	}
	fixed := func(m string) string {
		m = strings.NewReplacer("closedport", "NAME", "notpostgres", "NAME").Replace(m)
		return regexp.MustCompile(`scrutin_[0-9a-z]+`).ReplaceAllString(m, "DATABASE")
	}
	if a, b := fixed(messages["closedport"]), fixed(messages["notpostgres"]); a != b || !strings.Contains(a, "check its host, port and credentials") {
		t.Errorf("a closed port and a server of another protocol are told apart, or the message does not say what to check:\n%s\n%s", messages["closedport"], messages["notpostgres"])
	}
}
