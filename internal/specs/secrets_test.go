package specs_test

import (
	"strings"
	"testing"

	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestSecrets(t *testing.T) {
	tests := map[string]struct {
		database *specs.DatabaseInfo
		want     []string
	}{
		"embedded":   {nil, []string{specs.KeysSecretName, specs.DeliverySecretName}},
		"postgresql": {&specs.DatabaseInfo{DSN: "d"}, []string{specs.KeysSecretName, specs.DeliverySecretName, specs.DatabaseSecretName}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := specstest.Inputs(specstest.Election("t", "v", "u"))
			in.Database = tc.database
			var got []string
			for _, s := range specs.Secrets(in) {
				got = append(got, s.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("secrets %v, want %v", got, tc.want)
			}
			if keys := specs.Secrets(in)[0]; keys.Immutable == nil || !*keys.Immutable {
				t.Error("the keys Secret must be immutable")
			}
		})
	}
}
