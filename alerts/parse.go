package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// ErrNoDetails is returned by the parsers when the details name no metric,
// so no rule can match them. The Alert returned with it is still usable.
var ErrNoDetails = errors.New("parse alert details: no metric in the details")

// maxNesting bounds how many SNS envelopes (a JSON string inside a JSON
// message) the parser opens.
const maxNesting = 3

// ParseAlarm parses a CloudWatch alarm as CloudWatch sends it through SNS:
// the alarm JSON itself, or the SNS notification whose Message is that JSON
// as a string.
func ParseAlarm(b []byte) (Alert, error) {
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return Alert{}, fmt.Errorf("parse alarm: %w", err)
	}
	return ParseDetails(d)
}

// ParseDetails reads an alert's details: a CloudWatch alarm (possibly
// inside an SNS notification), or an Events API v2 event's custom_details.
// In custom details a "namespace" holding a "/" is the metric's namespace
// (AWS/SageMaker, Cato/RayServe); one without is a Kubernetes namespace,
// since those cannot hold "/". Kubernetes hints (a "k8s" object, or
// "namespace" and "deployment") fill the Namespace and Deployment
// dimensions that the Ray Serve rules read when the details give none.
func ParseDetails(d map[string]any) (Alert, error) {
	return parseDetails(d, 0)
}

func parseDetails(d map[string]any, depth int) (Alert, error) {
	if d == nil {
		return Alert{}, ErrNoDetails
	}
	if msg, ok := d["Message"].(string); ok && str(d, "Type") == "Notification" {
		if depth >= maxNesting {
			return Alert{Details: d}, ErrNoDetails
		}
		var inner map[string]any
		if err := json.Unmarshal([]byte(msg), &inner); err != nil {
			return Alert{Details: d}, fmt.Errorf("parse sns message: %w", err)
		}
		return parseDetails(inner, depth+1)
	}
	if cd, ok := d["custom_details"].(map[string]any); ok {
		return parseDetails(cd, depth+1)
	}

	var a Alert
	if _, ok := d["Trigger"].(map[string]any); ok || str(d, "AlarmName") != "" {
		a = parseCloudWatch(d)
	} else {
		a = parseCustom(d)
	}
	a.Details = d
	if a.Metric == "" {
		return a, ErrNoDetails
	}
	return a, nil
}

// cloudWatchTime is the layout of StateChangeTime: not RFC 3339, the zone
// has no colon ("2026-03-14T02:41:12.090+0000").
const cloudWatchTime = "2006-01-02T15:04:05.999999999-0700"

// datapoint finds the first (newest) datapoint of a NewStateReason such as
// "… 3 datapoints [388.5 (14/03/26 02:16:00), 379.0 (…)] were greater …".
var datapoint = regexp.MustCompile(`\[\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*\(`)

func parseCloudWatch(d map[string]any) Alert {
	a := Alert{
		AlarmName: str(d, "AlarmName"),
		Summary:   str(d, "AlarmDescription"),
		State:     str(d, "NewStateValue"),
		Region:    regionOf(str(d, "AlarmArn"), str(d, "Region")),
	}
	if a.Summary == "" {
		a.Summary = a.AlarmName
	}
	if t, err := parseTime(str(d, "StateChangeTime")); err == nil {
		a.StateChangeTime = t
	}
	if m := datapoint.FindStringSubmatch(str(d, "NewStateReason")); m != nil {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil && finite(v) {
			a.Value, a.HasValue = v, true
		}
	}

	tr, _ := d["Trigger"].(map[string]any)
	a.Metric = str(tr, "MetricName")
	a.Namespace = str(tr, "Namespace")
	a.Statistic = str(tr, "Statistic")
	if a.Statistic == "" {
		a.Statistic = str(tr, "ExtendedStatistic")
	}
	a.Unit = str(tr, "Unit")
	a.Op = opOf(str(tr, "ComparisonOperator"))
	if v, ok := num(tr["Threshold"]); ok {
		a.Threshold = v
	}
	a.Dimensions = dimensionsOf(tr["Dimensions"])
	return a
}

func parseCustom(d map[string]any) Alert {
	a := Alert{
		AlarmName: str(d, "alarm_name"),
		Metric:    first(str(d, "metric_name"), str(d, "metric"), str(d, "MetricName")),
		Statistic: str(d, "statistic"),
		Unit:      str(d, "unit"),
		Region:    str(d, "region"),
		Resource:  first(str(d, "resource"), str(d, "resource_id"), str(d, "replication_group_id")),
		State:     str(d, "state"),
		Op:        opOf(first(str(d, "comparison_operator"), str(d, "comparison"), str(d, "op"))),
	}
	a.Namespace = first(str(d, "metric_namespace"), str(d, "cloudwatch_namespace"))
	k8sNamespace, k8sDeployment := "", str(d, "deployment")
	if ns := str(d, "namespace"); strings.Contains(ns, "/") {
		a.Namespace = first(a.Namespace, ns)
	} else {
		k8sNamespace = ns
	}
	if k, ok := d["k8s"].(map[string]any); ok {
		k8sNamespace = first(str(k, "namespace"), k8sNamespace)
		k8sDeployment = first(str(k, "deployment"), k8sDeployment)
	}
	for _, key := range []string{"observed", "value", "current", "metric_value"} {
		if v, ok := num(d[key]); ok {
			a.Value, a.HasValue = v, true
			break
		}
	}
	if v, ok := num(d["threshold"]); ok {
		a.Threshold = v
	}
	if t, err := parseTime(str(d, "timestamp")); err == nil {
		a.StateChangeTime = t
	}

	a.Dimensions = dimensionsOf(d["dimensions"])
	fill := map[string]string{
		"Namespace":          k8sNamespace,
		"Deployment":         k8sDeployment,
		"ReplicationGroupId": str(d, "replication_group_id"),
	}
	for k, v := range fill {
		if v == "" {
			continue
		}
		if a.Dimensions == nil {
			a.Dimensions = map[string]string{}
		}
		if _, ok := a.Dimensions[k]; !ok {
			a.Dimensions[k] = v
		}
	}
	return a
}

// ParseEventsV2 reads the alert in an Events API v2 request body: its
// payload's custom_details, with the payload's summary. Acknowledge and
// resolve events carry no payload and return ErrNoDetails.
func ParseEventsV2(b []byte) (Alert, error) {
	var ev struct {
		Payload *struct {
			Summary       string         `json:"summary"`
			Component     string         `json:"component"`
			CustomDetails map[string]any `json:"custom_details"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return Alert{}, fmt.Errorf("parse events v2 event: %w", err)
	}
	if ev.Payload == nil {
		return Alert{}, ErrNoDetails
	}
	a, err := ParseDetails(ev.Payload.CustomDetails)
	a.Summary = first(ev.Payload.Summary, a.Summary)
	a.Resource = first(a.Resource, ev.Payload.Component)
	return a, err
}

// FromIncidentAlert reads a PagerDuty alert's details: body.details, else
// body.cef_details.details. The Alert always carries the alert's ID and
// summary; the error says why it has no metric, if it has none.
func FromIncidentAlert(ia pagerduty.IncidentAlert) (Alert, error) {
	d := detailsOf(ia.Body)
	a, err := ParseDetails(d)
	a.ID = ia.ID
	a.Summary = first(ia.Summary, a.Summary)
	if err != nil {
		return a, fmt.Errorf("read alert %s: %w", ia.ID, err)
	}
	return a, nil
}

func detailsOf(body map[string]any) map[string]any {
	asMap := func(v any) map[string]any {
		switch v := v.(type) {
		case map[string]any:
			if len(v) > 0 {
				return v
			}
		case string:
			var m map[string]any
			if json.Unmarshal([]byte(v), &m) == nil && len(m) > 0 {
				return m
			}
		}
		return nil
	}
	if d := asMap(body["details"]); d != nil {
		return d
	}
	if cef, ok := body["cef_details"].(map[string]any); ok {
		return asMap(cef["details"])
	}
	return nil
}

func dimensionsOf(v any) map[string]string {
	out := map[string]string{}
	switch v := v.(type) {
	case []any: // CloudWatch: [{"name": "...", "value": "..."}]
		for _, item := range v {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			name := first(str(m, "name"), str(m, "Name"))
			if name != "" {
				out[name] = first(str(m, "value"), str(m, "Value"))
			}
		}
	case map[string]any: // custom details: {"EndpointName": "..."}
		for k, x := range v {
			if s, ok := scalar(x); ok {
				out[k] = s
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func opOf(s string) string {
	switch s {
	case "GreaterThanThreshold", ">", "gt":
		return ">"
	case "GreaterThanOrEqualToThreshold", ">=", "gte":
		return ">="
	case "LessThanThreshold", "<", "lt":
		return "<"
	case "LessThanOrEqualToThreshold", "<=", "lte":
		return "<="
	}
	return ""
}

// regionOf takes the region code from an alarm ARN
// (arn:aws:cloudwatch:us-east-1:…), else keeps the long name CloudWatch
// sends ("US East (N. Virginia)").
func regionOf(arn, long string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 3 && parts[0] == "arn" && parts[3] != "" {
		return parts[3]
	}
	return long
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(cloudWatchTime, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func num(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case json.Number:
		x, err := v.Float64()
		if err != nil {
			return 0, false
		}
		f = x
	case string:
		x, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
		if err != nil {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	return f, finite(f)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
