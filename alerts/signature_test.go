package alerts

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/secret"
)

func TestVerifySignatureCases(t *testing.T) {
	sigs := loadSignatures(t)
	cur, prev := secret.String(sigs.Current), secret.String(sigs.Previous)
	names := make([]string, 0, len(sigs.Files))
	for name := range sigs.Files {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		f := sigs.Files[name]
		body := readCase(t, "pagerduty/webhook_v3/"+name)
		tests := []struct {
			name    string
			header  string
			secrets []secret.String
			want    error
		}{
			{name: "current", header: f.Headers[SignatureHeader], secrets: []secret.String{cur}},
			{name: "current with both configured", header: f.Headers[SignatureHeader],
				secrets: []secret.String{prev, cur}},
			{name: "rotation header", header: f.Rotation, secrets: []secret.String{cur}},
			{name: "rotation header previous only", header: f.Rotation,
				secrets: []secret.String{prev}},
			{name: "old only while previous configured", header: f.OldOnly,
				secrets: []secret.String{prev, cur}},
			{name: "old only after rotation", header: f.OldOnly, secrets: []secret.String{cur},
				want: ErrBadSignature},
			{name: "current against previous only", header: f.Headers[SignatureHeader],
				secrets: []secret.String{prev}, want: ErrBadSignature},
			{name: "missing header", header: "", secrets: []secret.String{cur},
				want: ErrNoSignature},
			{name: "wrong version only",
				header:  strings.Replace(f.Headers[SignatureHeader], "v1=", "v0=", 1),
				secrets: []secret.String{cur}, want: ErrNoSignature},
			{name: "no secret configured", header: f.Headers[SignatureHeader],
				secrets: []secret.String{""}, want: ErrBadSignature},
			{name: "spaces after comma", header: strings.ReplaceAll(f.Rotation, ",", ", "),
				secrets: []secret.String{cur}},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				err := VerifySignature(body, tt.header, tt.secrets)
				if tt.want == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tt.want)
				for _, s := range []string{sigs.Current, sigs.Previous} {
					require.NotContains(t, err.Error(), s)
				}
			})
		}
	}
}

func TestVerifySignatureNegativeBodies(t *testing.T) {
	sigs := loadSignatures(t)
	body := readCase(t, "pagerduty/webhook_v3/incident.triggered.json")
	header := sigs.Files["incident.triggered.json"].Headers[SignatureHeader]
	cur := []secret.String{secret.String(sigs.Current)}

	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, body))
	tests := []struct {
		name string
		body []byte
	}{
		{name: "tampered body", body: bytes.Replace(body, []byte(`"high"`), []byte(`"low"`), 1)},
		{name: "reformatted body", body: compact.Bytes()},
		{name: "trailing newline dropped", body: bytes.TrimRight(body, "\n")},
		{name: "empty body", body: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, body, tt.body)
			require.ErrorIs(t, VerifySignature(tt.body, header, cur), ErrBadSignature)
		})
	}
}

func TestSignRoundTrip(t *testing.T) {
	sigs := loadSignatures(t)
	for name, f := range sigs.Files {
		t.Run(name, func(t *testing.T) {
			body := readCase(t, "pagerduty/webhook_v3/"+name)
			require.Equal(t, f.Headers[SignatureHeader], Sign(body, secret.String(sigs.Current)))
			require.Equal(t, f.OldOnly, Sign(body, secret.String(sigs.Previous)))
		})
	}
}
