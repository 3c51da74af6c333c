package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/thinktank/catobot/secret"
)

// SignatureHeader is the header PagerDuty webhooks v3 sign deliveries in.
// See https://developer.pagerduty.com/docs/verifying-signatures.
const SignatureHeader = "X-PagerDuty-Signature"

const (
	signaturePrefix = "v1="
	// maxSignatures bounds the work one header can cause; PagerDuty sends
	// one value, or two while a secret is being rotated.
	maxSignatures = 8
)

// Errors from VerifySignature. Both mean the delivery is refused.
var (
	// ErrNoSignature is returned when the header is empty or holds no
	// well-formed v1 signature.
	ErrNoSignature = errors.New("verify webhook signature: no v1 signature")
	// ErrBadSignature is returned when no v1 signature matches any secret.
	ErrBadSignature = errors.New("verify webhook signature: no signature matches")
)

// Sign returns the X-PagerDuty-Signature value for body signed with s:
// "v1=" followed by the hex HMAC-SHA256 of the raw bytes.
func Sign(body []byte, s secret.String) string {
	return signaturePrefix + hex.EncodeToString(mac(body, s))
}

// VerifySignature checks header, one or more comma-separated "v1=<hex>"
// values, against body signed with each of secrets, and returns nil when
// any value matches any non-empty secret. Several secrets allow rotation:
// configure the previous and the current one until PagerDuty signs with the
// new one only. Comparisons take constant time. Errors never hold the
// header or a secret.
func VerifySignature(body []byte, header string, secrets []secret.String) error {
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		hexSig, ok := strings.CutPrefix(part, signaturePrefix)
		if !ok {
			continue
		}
		sig, err := hex.DecodeString(hexSig)
		if err != nil || len(sig) != sha256.Size {
			continue
		}
		sigs = append(sigs, sig)
		if len(sigs) == maxSignatures {
			break
		}
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}

	ok := false
	for _, s := range secrets {
		if s.IsZero() {
			continue
		}
		want := mac(body, s)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				ok = true
			}
		}
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

func mac(body []byte, s secret.String) []byte {
	m := hmac.New(sha256.New, []byte(s.Reveal()))
	m.Write(body)
	return m.Sum(nil)
}
