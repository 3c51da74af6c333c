package alerts

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
)

var ignoreDetails = cmpopts.IgnoreFields(Alert{}, "Details")

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	gpuAlert = Alert{
		AlarmName: "shadow-self-gpu-util-high",
		Summary:   "Shadow Self GPU utilisation above 90% (summed over GPUs/instance, 4 GPUs => max 400)",
		Namespace: "/aws/sagemaker/Endpoints",
		Metric:    "GPUUtilization",
		Dimensions: map[string]string{
			"EndpointName": "cato-shadow-self", "VariantName": "primary",
		},
		Value: 388.5, HasValue: true, Threshold: 360, Region: "us-east-1",
		Statistic: "AVERAGE", Op: ">", State: "ALARM",
		StateChangeTime: at("2026-03-14T02:17:03.284Z"),
	}
	latencyAlert = Alert{
		AlarmName: "shadow-self-latency-p99",
		Summary:   "Shadow Self latency p99 > 500ms. ModelLatency is reported in MICROseconds: threshold 500000 = 500 ms",
		Namespace: "AWS/SageMaker",
		Metric:    "ModelLatency",
		Dimensions: map[string]string{
			"EndpointName": "cato-shadow-self", "VariantName": "primary",
		},
		Value: 731204, HasValue: true, Threshold: 500000, Region: "us-east-1",
		Statistic: "p99", Unit: "Microseconds", Op: ">", State: "ALARM",
		StateChangeTime: at("2026-03-14T02:17:03.284Z"),
	}
	memoryAlert = Alert{
		AlarmName:  "cato-cache-production-memory-high",
		Summary:    "ElastiCache cato-cache-production primary memory above 85%",
		Namespace:  "AWS/ElastiCache",
		Metric:     "DatabaseMemoryUsagePercentage",
		Dimensions: map[string]string{"CacheClusterId": "cato-cache-production-001"},
		Value:      91.7, HasValue: true, Threshold: 85, Region: "us-east-1",
		Statistic: "MAXIMUM", Unit: "Percent", Op: ">", State: "ALARM",
		StateChangeTime: at("2026-03-14T02:41:12.090Z"),
	}
)

func TestParseAlarmCases(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Alert
	}{
		{name: "gpu", file: "cloudwatch/alarm_sagemaker_gpuutilization_alarm.json", want: gpuAlert},
		{name: "gpu through sns", file: "cloudwatch/sns_http_notification_sagemaker_gpu.json",
			want: gpuAlert},
		{name: "latency p99", file: "cloudwatch/alarm_sagemaker_modellatency_p99_alarm.json",
			want: latencyAlert},
		{name: "elasticache memory",
			file: "cloudwatch/alarm_elasticache_databasememoryusage_alarm.json", want: memoryAlert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAlarm(readCase(t, tt.file))
			require.NoError(t, err)
			require.NotEmpty(t, got.Details)
			if d := cmp.Diff(got, tt.want, ignoreDetails); d != "" {
				t.Errorf("ParseAlarm() (-got +want):\n%s", d)
			}
		})
	}
}

func TestParseEventsV2Cases(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    Alert
		wantErr error
	}{
		{
			name: "shadow self latency",
			file: "pagerduty/events_v2/trigger_shadow_self_latency_p99.json",
			want: Alert{
				AlarmName: "shadow-self-latency-p99",
				Summary:   "Shadow Self latency p99 > 500ms (prod, primary) - 731ms over 3x60s",
				Namespace: "AWS/SageMaker",
				Metric:    "ModelLatency",
				Dimensions: map[string]string{
					"EndpointName": "cato-shadow-self", "VariantName": "primary",
					"Namespace": "cato", "Deployment": "cato-orchestrator",
				},
				Value: 731204, HasValue: true, Threshold: 500000, Region: "us-east-1",
				Resource: "cato-shadow-self/primary", Statistic: "p99", Unit: "Microseconds",
			},
		},
		{
			name: "elasticache memory",
			file: "pagerduty/events_v2/trigger_elasticache_memory.json",
			want: Alert{
				Summary:   "ElastiCache cato-cache-production-001 DatabaseMemoryUsagePercentage 91.7% > 85%",
				Namespace: "AWS/ElastiCache",
				Metric:    "DatabaseMemoryUsagePercentage",
				Dimensions: map[string]string{
					"CacheClusterId":     "cato-cache-production-001",
					"ReplicationGroupId": "cato-cache-production",
				},
				Value: 91.7, HasValue: true, Threshold: 85,
				Resource: "cato-cache-production", Statistic: "Maximum",
			},
		},
		{name: "acknowledge", file: "pagerduty/events_v2/acknowledge.json", wantErr: ErrNoDetails},
		{name: "resolve", file: "pagerduty/events_v2/resolve.json", wantErr: ErrNoDetails},
		{name: "resolve wrong routing key",
			file: "pagerduty/events_v2/resolve_wrong_routing_key.json", wantErr: ErrNoDetails},
		{name: "response 202", file: "pagerduty/events_v2/response_202.json",
			wantErr: ErrNoDetails},
		{name: "response 400", file: "pagerduty/events_v2/response_400.json",
			wantErr: ErrNoDetails},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEventsV2(readCase(t, tt.file))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if d := cmp.Diff(got, tt.want, ignoreDetails); d != "" {
				t.Errorf("ParseEventsV2() (-got +want):\n%s", d)
			}
		})
	}
}

func incidentAlerts(t *testing.T, file string) []pagerduty.IncidentAlert {
	t.Helper()
	var resp pagerduty.ListAlertsResponse
	require.NoError(t, json.Unmarshal(readCase(t, file), &resp))
	return resp.Alerts
}

func TestFromIncidentAlert(t *testing.T) {
	withID := func(a Alert, id, summary string) Alert {
		a.ID, a.Summary = id, summary
		return a
	}
	latency := incidentAlerts(t, "pagerduty/rest/get_incident_alerts_sagemaker_latency.json")
	cache := incidentAlerts(t, "pagerduty/rest/get_incident_alerts_elasticache_two_alerts.json")
	require.Len(t, latency, 1)
	require.Len(t, cache, 2)

	// The same alert with body.details gone: the parser falls back to
	// body.cef_details.details.
	cefOnly := latency[0]
	cefOnly.Body = map[string]any{"cef_details": latency[0].Body["cef_details"]}
	stringDetails := latency[0]
	raw, err := json.Marshal(latency[0].Body["details"])
	require.NoError(t, err)
	stringDetails.Body = map[string]any{"details": string(raw)}

	hitRate := Alert{
		ID:        "A0HIT0RATE02",
		Summary:   `ALARM: "cato-cache-production-cache-hit-rate-low" in US East (N. Virginia)`,
		AlarmName: "cato-cache-production-cache-hit-rate-low",
		Namespace: "AWS/ElastiCache",
		Metric:    "CacheHitRate",
		Dimensions: map[string]string{
			"CacheClusterId": "cato-cache-production-002", "CacheNodeId": "0001",
		},
		Value: 61.3, HasValue: true, Threshold: 80, Region: "us-east-1",
		Statistic: "AVERAGE", Unit: "Percent", Op: "<", State: "ALARM",
		StateChangeTime: at("2026-03-14T02:46:30.400Z"),
	}
	latencySummary := `ALARM: "shadow-self-latency-p99" in US East (N. Virginia)`
	tests := []struct {
		name string
		in   pagerduty.IncidentAlert
		want Alert
	}{
		{name: "sagemaker latency", in: latency[0],
			want: withID(latencyAlert, "A0LAT0P99001", latencySummary)},
		{name: "cef details only", in: cefOnly,
			want: withID(latencyAlert, "A0LAT0P99001", latencySummary)},
		{name: "details as a json string", in: stringDetails,
			want: withID(latencyAlert, "A0LAT0P99001", latencySummary)},
		{name: "elasticache memory", in: cache[0], want: withID(memoryAlert, "A0MEM0HIGH01",
			`ALARM: "cato-cache-production-memory-high" in US East (N. Virginia)`)},
		{name: "elasticache hit rate", in: cache[1], want: hitRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromIncidentAlert(tt.in)
			require.NoError(t, err)
			if d := cmp.Diff(got, tt.want, ignoreDetails); d != "" {
				t.Errorf("FromIncidentAlert() (-got +want):\n%s", d)
			}
		})
	}
}

func TestFromIncidentAlertWithoutMetric(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
	}{
		{name: "no body"},
		{name: "empty details", body: map[string]any{"details": map[string]any{}}},
		{name: "text details", body: map[string]any{"details": "disk full on host-7"}},
		{name: "details without metric",
			body: map[string]any{"details": map[string]any{"note": "manual page"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := FromIncidentAlert(pagerduty.IncidentAlert{
				APIObject: pagerduty.APIObject{ID: "A1", Summary: "manual"}, Body: tt.body,
			})
			require.ErrorIs(t, err, ErrNoDetails)
			require.Equal(t, "A1", a.ID)
			require.Equal(t, "manual", a.Summary)
			_, ok := FindMatch(DefaultRules(), []Alert{a})
			require.False(t, ok)
		})
	}
}

func TestParseDetailsCustom(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Alert
	}{
		{
			name: "ray requests with k8s hints at top level",
			in: `{"resource":"cato-orchestrator","metric":"RequestsPerReplica",
				"namespace":"cato","deployment":"cato-orchestrator","value":"12.5","threshold":10}`,
			want: Alert{
				Metric: "RequestsPerReplica", Resource: "cato-orchestrator",
				Dimensions: map[string]string{"Namespace": "cato", "Deployment": "cato-orchestrator"},
				Value:      12.5, HasValue: true, Threshold: 10,
			},
		},
		{
			name: "explicit dimensions win over hints",
			in: `{"metric_name":"RequestsPerReplica","metric_namespace":"Cato/RayServe",
				"dimensions":[{"Name":"Namespace","Value":"cato"},{"Name":"Deployment","Value":"x"}],
				"k8s":{"namespace":"other","deployment":"cato-orchestrator"},"current":2}`,
			want: Alert{
				Metric: "RequestsPerReplica", Namespace: "Cato/RayServe",
				Dimensions: map[string]string{"Namespace": "cato", "Deployment": "x"},
				Value:      2, HasValue: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.in), &d))
			got, err := ParseDetails(d)
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want, ignoreDetails); diff != "" {
				t.Errorf("ParseDetails() (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCaseMatches(t *testing.T) {
	scaleShadowUp := actions.Request{Verb: "scale", Component: "shadow", Args: []string{"+10"}}
	scaleCache := actions.Request{Verb: "scale", Component: "cache", Args: []string{"next"}}
	tests := []struct {
		name     string
		alerts   func(t *testing.T) []Alert
		rule     string
		text     string
		req      actions.Request
		approval bool
	}{
		{
			name:   "gpu alarm",
			alerts: alarmFile("cloudwatch/alarm_sagemaker_gpuutilization_alarm.json"),
			rule:   "shadow-gpu-high",
			text:   "GPU utilization 97.1% > 80% on cato-shadow-self/primary",
			req:    scaleShadowUp,
		},
		{
			name:   "gpu alarm through sns",
			alerts: alarmFile("cloudwatch/sns_http_notification_sagemaker_gpu.json"),
			rule:   "shadow-gpu-high",
			text:   "GPU utilization 97.1% > 80% on cato-shadow-self/primary",
			req:    scaleShadowUp,
		},
		{
			name:   "model latency in microseconds is critical",
			alerts: alarmFile("cloudwatch/alarm_sagemaker_modellatency_p99_alarm.json"),
			rule:   "shadow-latency-critical",
			text:   "p99 latency 731.2 ms > 500 ms on cato-shadow-self/primary",
			req:    scaleShadowUp,
		},
		{
			name:   "elasticache memory against the runbook's 80%",
			alerts: alarmFile("cloudwatch/alarm_elasticache_databasememoryusage_alarm.json"),
			rule:   "cache-memory-high",
			text:   "memory 91.7% > 80% on cato-cache-production-001",
			req:    scaleCache, approval: true,
		},
		{
			name:   "events v2 latency",
			alerts: eventsFile("pagerduty/events_v2/trigger_shadow_self_latency_p99.json"),
			rule:   "shadow-latency-critical",
			text:   "p99 latency 731.2 ms > 500 ms on cato-shadow-self/primary",
			req:    scaleShadowUp,
		},
		{
			name:   "events v2 elasticache memory",
			alerts: eventsFile("pagerduty/events_v2/trigger_elasticache_memory.json"),
			rule:   "cache-memory-high",
			text:   "memory 91.7% > 80% on cato-cache-production-001",
			req:    scaleCache, approval: true,
		},
		{
			name:   "rest sagemaker latency",
			alerts: restFile("pagerduty/rest/get_incident_alerts_sagemaker_latency.json"),
			rule:   "shadow-latency-critical",
			text:   "p99 latency 731.2 ms > 500 ms on cato-shadow-self/primary",
			req:    scaleShadowUp,
		},
		{
			name:   "rest elasticache two alerts, one match on the cache step",
			alerts: restFile("pagerduty/rest/get_incident_alerts_elasticache_two_alerts.json"),
			rule:   "cache-memory-high",
			text:   "memory 91.7% > 80% on cato-cache-production-001",
			req:    scaleCache, approval: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := FindMatch(DefaultRules(), tt.alerts(t))
			require.True(t, ok)
			require.Equal(t, tt.rule, m.Rule.Name)
			require.Equal(t, tt.text, m.Text)
			if d := cmp.Diff(m.Request, tt.req); d != "" {
				t.Errorf("Request (-got +want):\n%s", d)
			}
			require.Equal(t, tt.approval, m.Rule.Approval)
		})
	}
}

func alarmFile(file string) func(t *testing.T) []Alert {
	return func(t *testing.T) []Alert {
		a, err := ParseAlarm(readCase(t, file))
		require.NoError(t, err)
		return []Alert{a}
	}
}

func eventsFile(file string) func(t *testing.T) []Alert {
	return func(t *testing.T) []Alert {
		a, err := ParseEventsV2(readCase(t, file))
		require.NoError(t, err)
		return []Alert{a}
	}
}

func restFile(file string) func(t *testing.T) []Alert {
	return func(t *testing.T) []Alert {
		var out []Alert
		for _, ia := range incidentAlerts(t, file) {
			a, err := FromIncidentAlert(ia)
			require.NoError(t, err)
			out = append(out, a)
		}
		return out
	}
}
