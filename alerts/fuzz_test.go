package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/thinktank/catobot/secret"
)

// caseFiles returns every JSON file in the given case folders, as seeds.
func caseFiles(f *testing.F, dirs ...string) [][]byte {
	var out [][]byte
	for _, dir := range dirs {
		paths, err := filepath.Glob(filepath.Join(casesDir(f), dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// Run with: go test ./alerts -run '^$' -fuzz FuzzVerifySignature
func FuzzVerifySignature(f *testing.F) {
	sigs := loadSignatures(f)
	for name, c := range sigs.Files {
		body := readCase(f, "pagerduty/webhook_v3/"+name)
		f.Add(body, c.Headers[SignatureHeader], sigs.Current)
		f.Add(body, c.Rotation, sigs.Previous)
	}
	f.Add([]byte{}, "", "")
	f.Add([]byte("x"), "v1=,v1=zz,v0=00, v1=", "s")
	f.Fuzz(func(t *testing.T, body []byte, header, key string) {
		err := VerifySignature(body, header, []secret.String{secret.String(key)})
		if err == nil && key == "" {
			t.Fatal("accepted with no secret")
		}
		if key != "" {
			if err := VerifySignature(body, Sign(body, secret.String(key)), []secret.String{
				"other", secret.String(key),
			}); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}

// Run with: go test ./alerts -run '^$' -fuzz FuzzParseWebhook
func FuzzParseWebhook(f *testing.F) {
	for _, b := range caseFiles(f, "pagerduty/webhook_v3") {
		f.Add(b)
	}
	f.Add([]byte(`{"event":{"event_type":"incident.annotated","data":{"incident":null}}}`))
	f.Add([]byte(`{"event":{"event_type":"incident.triggered","data":[1,2]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseWebhook(body)
		if err == nil && !handled(e.Type) && e.Incident.ID != "" {
			t.Fatalf("unhandled type %q parsed an incident", e.Type)
		}
	})
}

// Run with: go test ./alerts -run '^$' -fuzz FuzzParseAlarm
func FuzzParseAlarm(f *testing.F) {
	for _, b := range caseFiles(f, "cloudwatch", "pagerduty/events_v2") {
		f.Add(b)
	}
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`))
	f.Add([]byte(`{"NewStateReason":"[1e400 (x)]","Trigger":{"Dimensions":[1,{"name":2}]}}`))
	rules := DefaultRules()
	f.Fuzz(func(t *testing.T, b []byte) {
		a1, _ := ParseAlarm(b)
		a2, _ := ParseEventsV2(b)
		FindMatch(rules, []Alert{a1, a2})
	})
}

// Run with: go test ./alerts -run '^$' -fuzz FuzzFromIncidentAlert
func FuzzFromIncidentAlert(f *testing.F) {
	for _, b := range caseFiles(f, "pagerduty/rest") {
		f.Add(b)
	}
	f.Add([]byte(`{"alerts":[{"body":{"details":"{\"Trigger\":{}}"}}]}`))
	f.Add([]byte(`{"alerts":[{"body":{"cef_details":{"details":{"custom_details":{"k8s":1}}}}}]}`))
	rules := DefaultRules()
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp pagerduty.ListAlertsResponse
		if json.Unmarshal(b, &resp) != nil {
			return
		}
		var alerts []Alert
		for _, ia := range resp.Alerts {
			a, _ := FromIncidentAlert(ia)
			alerts = append(alerts, a)
		}
		if m, ok := FindMatch(rules, alerts); ok && m.Text == "" {
			t.Fatal("match without text")
		}
	})
}
