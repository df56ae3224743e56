package specs

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// InFlightMetric is the per-pod metric the runtime exports for the autoscaler (served
// to the HPA by a custom metrics adapter, where the cluster has one).
const InFlightMetric = "scrutin_runtime_inflight_requests"

// HPA scales the runtime within the Election's bounds: up at once (a peak does
// not wait), down slowly (a lull at noon is not the end of the day). Its floor is
// raised ahead of the opening and of announced peaks (prescale.go).
func HPA(in *Inputs) *autoscalingv2.HorizontalPodAutoscaler {
	s := in.Election.Spec.Scaling
	floor, _, _ := EffectiveMinReplicas(&in.Election.Spec, in.Now)
	metrics := []autoscalingv2.MetricSpec{{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name: "cpu",
			Target: autoscalingv2.MetricTarget{
				Type:               autoscalingv2.UtilizationMetricType,
				AverageUtilization: ptr.To(ptr.Deref(s.TargetCPUUtilizationPercentage, 70)),
			},
		},
	}}
	if s.TargetInFlightRequestsPerPod != nil {
		metrics = append(metrics, autoscalingv2.MetricSpec{
			Type: autoscalingv2.PodsMetricSourceType,
			Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: InFlightMetric},
				Target: autoscalingv2.MetricTarget{
					Type:         autoscalingv2.AverageValueMetricType,
					AverageValue: resource.NewQuantity(int64(*s.TargetInFlightRequestsPerPod), resource.DecimalSI),
				},
			},
		})
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: objectMeta(in, RuntimeName),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: RuntimeName},
			MinReplicas:    ptr.To(floor),
			MaxReplicas:    s.MaxReplicas,
			Metrics:        metrics,
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{
					StabilizationWindowSeconds: ptr.To(int32(0)),
					SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
					Policies: []autoscalingv2.HPAScalingPolicy{
						{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
						{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
					},
				},
				ScaleDown: &autoscalingv2.HPAScalingRules{
					StabilizationWindowSeconds: ptr.To(int32(300)),
					Policies: []autoscalingv2.HPAScalingPolicy{
						{Type: autoscalingv2.PercentScalingPolicy, Value: 50, PeriodSeconds: 60},
					},
				},
			},
		},
	}
}
