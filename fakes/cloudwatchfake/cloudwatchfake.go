// Package cloudwatchfake is a CloudWatch API on the wire, for tests and the
// sandbox. It speaks the protocol aws-sdk-go-v2's service/cloudwatch
// (v1.76.0) uses: Smithy RPC v2 CBOR, POST
// /service/GraniteServiceVersion20100801/operation/<Op> with CBOR bodies,
// a "Smithy-Protocol: rpc-v2-cbor" header, and, because CloudWatch is
// query-compatible, the old query error code in X-Amzn-Query-Error. It
// answers GetMetricData from values set with SetValue or SetSeries.
//
// Use a Fake as an http.Handler, e.g. httptest.NewServer(f), and give its
// URL to the SDK as BaseEndpoint.
package cloudwatchfake

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// Service is the Smithy service name in request paths.
const Service = "GraniteServiceVersion20100801"

// OpGetMetricData is the one operation the fake answers.
const OpGetMetricData = "GetMetricData"

// Result status codes, as CloudWatch spells them in MetricDataResult.
const (
	StatusComplete      = "Complete"
	StatusPartialData   = "PartialData"
	StatusInternalError = "InternalError"
	StatusForbidden     = "Forbidden"
)

// MaxQueries is CloudWatch's limit on queries in one GetMetricData call.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
const MaxQueries = 500

// Point is one datapoint of a series.
type Point struct {
	Time  time.Time
	Value float64
}

// Failure is an error the fake answers instead of doing an operation.
type Failure = awsfake.Failure

// Query is one MetricDataQuery as the fake decoded it.
type Query struct {
	ID         string
	Namespace  string
	MetricName string
	Dimensions map[string]string
	Stat       string
	Period     int32
	Unit       string
	Expression string
	ReturnData bool
}

// Request is one GetMetricData request as the fake decoded it.
type Request struct {
	Start, End time.Time
	ScanBy     string
	Queries    []Query
}

// series is the data of one metric.
type series struct {
	live   bool // value is reported as a fresh datapoint on every call
	value  float64
	points []Point
	status string
}

// Fake is a CloudWatch endpoint. Use it as an http.Handler. It is safe for
// concurrent use.
type Fake struct {
	// Recorder holds every call received; Body is the raw CBOR.
	Recorder *awsfake.Recorder
	// Faults gives the fake Fail and ClearFailures.
	awsfake.Faults

	mu       sync.Mutex
	data     map[string]*series
	requests []Request
}

// New returns a fake with no metric data.
func New() *Fake {
	return &Fake{
		Recorder: &awsfake.Recorder{},
		data:     map[string]*series{},
	}
}

// SetValue makes the metric report value as one datapoint in the newest
// full period before each request's end time, whatever the statistic
// asked for.
func (f *Fake) SetValue(namespace, metric string, dims map[string]string, value float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.series(namespace, metric, dims)
	s.live, s.value, s.points = true, value, nil
}

// SetSeries makes the metric report exactly these datapoints, those
// within each request's time range.
func (f *Fake) SetSeries(namespace, metric string, dims map[string]string, points ...Point) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.series(namespace, metric, dims)
	s.live, s.points = false, slices.Clone(points)
}

// SetStatus sets the StatusCode the metric's results carry (StatusComplete
// unless set), e.g. StatusInternalError or StatusForbidden.
func (f *Fake) SetStatus(namespace, metric string, dims map[string]string, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series(namespace, metric, dims).status = status
}

// Unset removes the metric's data, so that it reports no datapoints.
func (f *Fake) Unset(namespace, metric string, dims map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, key(namespace, metric, dims))
}

// Requests returns the GetMetricData requests received so far, decoded.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// series returns the metric's series, creating it; f.mu must be held.
func (f *Fake) series(namespace, metric string, dims map[string]string) *series {
	k := key(namespace, metric, dims)
	s, ok := f.data[k]
	if !ok {
		s = &series{}
		f.data[k] = s
	}
	return s
}

// key identifies a metric: CloudWatch matches the dimension set exactly.
func key(namespace, metric string, dims map[string]string) string {
	var b strings.Builder
	b.WriteString(namespace + "\x00" + metric)
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		b.WriteString("\x00" + k + "=" + dims[k])
	}
	return b.String()
}

// ServeHTTP answers one RPC v2 CBOR request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, err := awsfake.ReadCBOR(r, Service)
	f.Recorder.Record(awsfake.Call{Service: awsfake.SigningService(r), Op: op, Body: body})
	if err != nil {
		awsfake.WriteCBORError(w, http.StatusBadRequest, "SerializationException", "", err.Error())
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.Take(op); ok {
		awsfake.WriteCBORError(w, fl.Status, fl.Code, fl.QueryCode, fl.Message)
		return
	}
	switch op {
	case OpGetMetricData:
		f.getMetricData(w, body)
	default:
		awsfake.WriteCBORError(w, http.StatusBadRequest, "UnknownOperationException", "",
			fmt.Sprintf("the fake does not implement %s", op))
	}
}

var idRe = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

func invalid(w http.ResponseWriter, format string, args ...any) {
	awsfake.WriteCBORError(w, http.StatusBadRequest, "InvalidParameterValueException", "InvalidParameterValue",
		fmt.Sprintf(format, args...))
}

func (f *Fake) getMetricData(w http.ResponseWriter, body []byte) {
	req, err := decodeRequest(body)
	if err != nil {
		awsfake.WriteCBORError(w, http.StatusBadRequest, "SerializationException", "", err.Error())
		return
	}
	f.requests = append(f.requests, req)

	switch {
	case req.Start.IsZero() || req.End.IsZero():
		invalid(w, "StartTime and EndTime are required")
		return
	case !req.Start.Before(req.End):
		invalid(w, "The parameter StartTime must be less than the parameter EndTime.")
		return
	case len(req.Queries) == 0 || len(req.Queries) > MaxQueries:
		invalid(w, "MetricDataQueries must have between 1 and %d members", MaxQueries)
		return
	}
	seen := map[string]bool{}
	for _, q := range req.Queries {
		switch {
		case !idRe.MatchString(q.ID):
			invalid(w, "The value %s for parameter MetricDataQueries.member.Id is not valid.", q.ID)
			return
		case seen[q.ID]:
			invalid(w, "The values for parameter id in MetricDataQueries are not unique.")
			return
		case q.Expression != "":
			invalid(w, "the fake does not evaluate expressions (query %s)", q.ID)
			return
		case q.Namespace == "" || q.MetricName == "" || q.Stat == "" || q.Period <= 0:
			invalid(w, "query %s needs MetricStat with Metric.Namespace, Metric.MetricName, "+
				"Period and Stat", q.ID)
			return
		}
		seen[q.ID] = true
	}

	results := smithycbor.List{}
	for _, q := range req.Queries {
		if !q.ReturnData {
			continue
		}
		results = append(results, f.result(req, q))
	}
	awsfake.WriteCBOR(w, http.StatusOK, smithycbor.Map{"MetricDataResults": results})
}

// result answers one query from the metric's data.
func (f *Fake) result(req Request, q Query) smithycbor.Map {
	status := StatusComplete
	var points []Point
	if s, ok := f.data[key(q.Namespace, q.MetricName, q.Dimensions)]; ok {
		status = cmp.Or(s.status, StatusComplete)
		switch {
		case s.live:
			period := time.Duration(q.Period) * time.Second
			t := req.End.Truncate(period).Add(-period)
			if !t.Before(req.Start) {
				points = []Point{{Time: t, Value: s.value}}
			}
		default:
			for _, p := range s.points {
				if !p.Time.Before(req.Start) && p.Time.Before(req.End) {
					points = append(points, p)
				}
			}
		}
	}
	if status == StatusForbidden || status == StatusInternalError {
		points = nil
	}
	sort.SliceStable(points, func(i, j int) bool {
		if req.ScanBy == "TimestampAscending" {
			return points[i].Time.Before(points[j].Time)
		}
		return points[i].Time.After(points[j].Time)
	})
	times, values := smithycbor.List{}, smithycbor.List{}
	for _, p := range points {
		times = append(times, &smithycbor.Tag{
			ID: 1, Value: smithycbor.Float64(float64(p.Time.UnixMilli()) / 1000),
		})
		values = append(values, smithycbor.Float64(p.Value))
	}
	return smithycbor.Map{
		"Id":         smithycbor.String(q.ID),
		"Label":      smithycbor.String(q.MetricName),
		"StatusCode": smithycbor.String(status),
		"Timestamps": times,
		"Values":     values,
	}
}

// decodeRequest decodes a GetMetricDataInput.
func decodeRequest(body []byte) (Request, error) {
	var req Request
	m, err := awsfake.DecodeCBORMap(body)
	if err != nil {
		return req, err
	}
	if t, ok := m["StartTime"]; ok {
		if req.Start, err = smithycbor.AsTime(t); err != nil {
			return req, fmt.Errorf("decode StartTime: %w", err)
		}
	}
	if t, ok := m["EndTime"]; ok {
		if req.End, err = smithycbor.AsTime(t); err != nil {
			return req, fmt.Errorf("decode EndTime: %w", err)
		}
	}
	req.ScanBy = str(m["ScanBy"])
	list, _ := m["MetricDataQueries"].(smithycbor.List)
	for i, item := range list {
		qm, ok := item.(smithycbor.Map)
		if !ok {
			return req, fmt.Errorf("decode MetricDataQueries[%d]: not a map", i)
		}
		q := Query{ID: str(qm["Id"]), Expression: str(qm["Expression"]), ReturnData: true}
		if b, ok := qm["ReturnData"].(smithycbor.Bool); ok {
			q.ReturnData = bool(b)
		}
		if ms, ok := qm["MetricStat"].(smithycbor.Map); ok {
			q.Stat, q.Unit = str(ms["Stat"]), str(ms["Unit"])
			if p, ok := ms["Period"]; ok {
				if q.Period, err = smithycbor.AsInt32(p); err != nil {
					return req, fmt.Errorf("decode MetricDataQueries[%d].Period: %w", i, err)
				}
			}
			metric, _ := ms["Metric"].(smithycbor.Map)
			q.Namespace, q.MetricName = str(metric["Namespace"]), str(metric["MetricName"])
			dims, _ := metric["Dimensions"].(smithycbor.List)
			for _, d := range dims {
				dm, _ := d.(smithycbor.Map)
				if q.Dimensions == nil {
					q.Dimensions = map[string]string{}
				}
				q.Dimensions[str(dm["Name"])] = str(dm["Value"])
			}
		}
		req.Queries = append(req.Queries, q)
	}
	return req, nil
}

// str returns a CBOR string's text, or "" for any other value.
var str = awsfake.CBORString
