package specs_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestHPA(t *testing.T) {
	tests := map[string]struct {
		scaling     scrutinv1.Scaling
		wantMetrics int
	}{
		"cpu only":         {scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To(int32(60))}, 1},
		"cpu and inflight": {scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To(int32(60)), TargetInFlightRequestsPerPod: ptr.To(int32(50))}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := specstest.Election("t", "v", "u")
			e.Spec.Scaling = tc.scaling
			h := specs.HPA(specstest.Inputs(e))
			if *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 10 || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 {
				t.Errorf("bounds: %+v", h.Spec)
			}
			if len(h.Spec.Metrics) != tc.wantMetrics {
				t.Errorf("%d metrics, want %d", len(h.Spec.Metrics), tc.wantMetrics)
			}
			if tc.wantMetrics == 2 && (h.Spec.Metrics[1].Pods.Metric.Name != specs.InFlightMetric || h.Spec.Metrics[1].Pods.Target.AverageValue.Value() != 50) {
				t.Errorf("in-flight metric: %+v", h.Spec.Metrics[1])
			}
		})
	}
}

// TestHPAFloorFollowsPeaks: the HPA's minReplicas is the floor at Inputs.Now.
func TestHPAFloorFollowsPeaks(t *testing.T) {
	e := specstest.Election("t", "v", "u")
	opens := e.Spec.Schedule.OpensAt.Time
	e.Spec.Scaling = scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 10, OpeningMinReplicas: ptr.To(int32(5)),
		PreScaleLead: &metav1.Duration{Duration: 10 * time.Minute},
		Peaks:        []scrutinv1.Peak{{At: metav1.NewTime(opens.Add(30 * time.Minute)), Duration: &metav1.Duration{Duration: time.Hour}, MinReplicas: 7}}}
	for _, tc := range []struct {
		now  time.Time
		want int32
	}{
		{opens.Add(-11 * time.Minute), 2},
		{opens.Add(-10 * time.Minute), 5},
		{opens.Add(20 * time.Minute), 7},
		{opens.Add(90 * time.Minute), 2},
	} {
		in := specstest.Inputs(e)
		in.Now = tc.now
		if h := specs.HPA(in); *h.Spec.MinReplicas != tc.want || h.Spec.MaxReplicas != 10 {
			t.Errorf("at opensAt%+v: minReplicas %d, maxReplicas %d; want %d, 10", tc.now.Sub(opens), *h.Spec.MinReplicas, h.Spec.MaxReplicas, tc.want)
		}
	}
}
