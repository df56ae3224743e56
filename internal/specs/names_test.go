package specs_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestNamespaceName(t *testing.T) {
	tests := map[string]struct {
		a, b     *scrutinv1.Election
		sameName bool
	}{
		"same election, same name":         {specstest.Election("t1", "vote", "u1"), specstest.Election("t1", "vote", "u1"), true},
		"same name in two tenants":         {specstest.Election("t1", "vote", "u1"), specstest.Election("t2", "vote", "u2"), false},
		"re-created with the same name":    {specstest.Election("t1", "vote", "u1"), specstest.Election("t1", "vote", "u2"), false},
		"names that concatenate the same":  {specstest.Election("a-b", "c", "u1"), specstest.Election("a", "b-c", "u1"), false},
		"long names, same 38-char prefix":  {specstest.Election("t", strings.Repeat("x", 60)+"1", "u"), specstest.Election("t", strings.Repeat("x", 60)+"2", "u"), false},
		"dotted name":                      {specstest.Election("t", "vote.2027", "u"), specstest.Election("t", "vote-2027", "u"), false},
		"same uid, other tenant namespace": {specstest.Election("t1", "v", "u"), specstest.Election("t2", "v", "u"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			na, nb := specs.NamespaceName(tc.a), specs.NamespaceName(tc.b)
			for _, n := range []string{na, nb} {
				if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
					t.Errorf("%q is not a valid namespace name: %v", n, errs)
				}
			}
			if (na == nb) != tc.sameName {
				t.Errorf("NamespaceName: %q vs %q, want same=%v", na, nb, tc.sameName)
			}
			if (specs.DatabaseName(tc.a) == specs.DatabaseName(tc.b)) != tc.sameName {
				t.Errorf("DatabaseName: %q vs %q, want same=%v", specs.DatabaseName(tc.a), specs.DatabaseName(tc.b), tc.sameName)
			}
		})
	}
}
