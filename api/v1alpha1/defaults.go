package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Default fills what a tenant left out with the defaults the API server applies from
// the CRD (the markers in election_types.go), for Elections read from a file, as the
// voting-runtime does in local runs. A test checks both agree.
func (e *Election) Default() {
	s := &e.Spec
	if len(s.Languages) == 0 {
		s.Languages = []Language{LanguageFrench, LanguageEnglish}
	}
	for i := range s.Questions {
		q := &s.Questions[i]
		if q.Kind == "" {
			q.Kind = SingleChoice
		}
		if q.MinChoices == 0 {
			q.MinChoices = 1
		}
	}
	if s.VoterRoll.Key == "" {
		s.VoterRoll.Key = "roll.csv"
	}
	a := &s.Authentication
	if a.Method == "" {
		a.Method = EmailCode
	}
	durations := []struct {
		field **metav1.Duration
		def   time.Duration
	}{
		{&a.CodeValidity, 10 * time.Minute},
		{&a.SignInTimeout, 15 * time.Minute},
		{&a.SessionIdleTimeout, 20 * time.Minute},
		{&a.SessionMaxLifetime, 2 * time.Hour},
		{&a.ResendCooldown, time.Minute},
	}
	for _, d := range durations {
		if *d.field == nil {
			*d.field = &metav1.Duration{Duration: d.def}
		}
	}
	if a.MaxCodeAttempts == 0 {
		a.MaxCodeAttempts = 5
	}
	if s.Scaling.MinReplicas == 0 {
		s.Scaling.MinReplicas = 1
	}
	if s.Scaling.MaxReplicas == 0 {
		s.Scaling.MaxReplicas = 1
	}
	if s.Scaling.TargetCPUUtilizationPercentage == nil {
		s.Scaling.TargetCPUUtilizationPercentage = ptr.To(int32(70))
	}
	if s.Scaling.MaxInFlightRequestsPerPod == 0 {
		s.Scaling.MaxInFlightRequestsPerPod = 256
	}
	if s.Scaling.PreScaleLead == nil {
		s.Scaling.PreScaleLead = &metav1.Duration{Duration: 10 * time.Minute}
	}
	for i := range s.Scaling.Peaks {
		if p := &s.Scaling.Peaks[i]; p.Duration == nil {
			p.Duration = &metav1.Duration{Duration: time.Hour}
		}
	}
	if s.Store.Type == "" {
		s.Store.Type = StoreEmbedded
	}
	if len(s.Scrutineers.ExportFields) == 0 {
		s.Scrutineers.ExportFields = []ParticipationField{FieldVoterID, FieldName, FieldVoted}
	}
	if s.Runtime == nil {
		s.Runtime = &RuntimeSpec{}
	}
	if s.Runtime.UpgradePolicy == "" {
		s.Runtime.UpgradePolicy = UpgradeWhenNotOpen
	}
	if s.Retention.ArchiveOnDelete == "" {
		s.Retention.ArchiveOnDelete = ArchiveKeep
	}
	if p := s.Proxies; p != nil && p.GivenBy == "" {
		p.GivenBy = ProxiesByOrganizer
	}
	if v := s.Verifiability; v != nil {
		if v.Mode == "" {
			v.Mode = VerifiabilityNone
		}
		if v.Group == "" {
			v.Group = GroupBelenios2048
		}
		if v.CredentialAuthority == "" {
			v.CredentialAuthority = CredentialAuthorityPlatform
		}
	}
}
