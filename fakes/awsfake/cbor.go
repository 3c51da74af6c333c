package awsfake

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"
)

// ReadCBOR reads an RPC v2 CBOR request to service (e.g. "GraniteServiceVersion20100801"):
// the operation from the path "/service/<service>/operation/<Op>" and the body.
func ReadCBOR(r *http.Request, service string) (op string, body []byte, err error) {
	body, err = io.ReadAll(r.Body)
	if err != nil {
		return "", nil, fmt.Errorf("read body: %w", err)
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/service/"+service+"/operation/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", body, fmt.Errorf("path %q is not /service/%s/operation/<Op>", r.URL.Path, service)
	}
	if got := r.Header.Get("Smithy-Protocol"); got != "rpc-v2-cbor" {
		return rest, body, fmt.Errorf("smithy-protocol header is %q, want rpc-v2-cbor", got)
	}
	return rest, body, nil
}

// WriteCBOR answers an RPC v2 CBOR request with v.
func WriteCBOR(w http.ResponseWriter, status int, v smithycbor.Value) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	_, _ = w.Write(smithycbor.Encode(v))
}

// WriteCBORError answers an RPC v2 CBOR request with an AWS error. A
// queryCode, when not "", goes in X-Amzn-Query-Error as query-compatible
// services send it.
func WriteCBORError(w http.ResponseWriter, status int, code, queryCode, msg string) {
	if queryCode != "" {
		w.Header().Set("X-Amzn-Query-Error", queryCode+";Sender")
	}
	WriteCBOR(w, status, smithycbor.Map{
		"__type":  smithycbor.String(code),
		"message": smithycbor.String(msg),
	})
}

// DecodeCBORMap decodes an RPC v2 CBOR request body, which must be a map.
func DecodeCBORMap(body []byte) (smithycbor.Map, error) {
	v, err := smithycbor.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	m, ok := v.(smithycbor.Map)
	if !ok {
		return nil, fmt.Errorf("decode request: body is %T, not a map", v)
	}
	return m, nil
}

// CBORString returns v's text, or "" when v is no CBOR string.
func CBORString(v smithycbor.Value) string {
	s, _ := v.(smithycbor.String)
	return string(s)
}
