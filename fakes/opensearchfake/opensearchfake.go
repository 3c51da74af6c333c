// Package opensearchfake is an OpenSearch Serverless API on the wire, for
// tests and the sandbox. It speaks awsJson1_0 (X-Amz-Target
// OpenSearchServerless.<Op>) for GetAccountSettings, UpdateAccountSettings
// and ListCollections, and checks capacity limits as the API does (at
// least 2 OCUs each).
package opensearchfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// ContentType is the awsJson1_0 content type the service answers with.
const ContentType = "application/x-amz-json-1.0"

// MinCapacityOCU is the API's lowest value for either capacity limit.
// https://docs.aws.amazon.com/opensearch-service/latest/ServerlessAPIReference/API_CapacityLimits.html
const MinCapacityOCU = 2

// Collection is one collection ListCollections returns.
type Collection struct {
	ID, Name, Status string
}

// Failure is an error the fake answers instead of doing an operation.
type Failure = awsfake.Failure

// Fake is an OpenSearch Serverless endpoint. Use it as an http.Handler. It
// is safe for concurrent use.
type Fake struct {
	// Recorder holds every call received.
	Recorder *awsfake.Recorder
	// Faults gives the fake Fail and ClearFailures.
	awsfake.Faults

	mu          sync.Mutex
	indexing    int32 // 0 means unset
	search      int32
	collections []Collection
}

// New returns a fake with the account limits at 10 indexing and 10 search
// OCUs and one ACTIVE collection, cato-memory.
func New() *Fake {
	return &Fake{
		Recorder:    &awsfake.Recorder{},
		indexing:    10,
		search:      10,
		collections: []Collection{{ID: "c4to0memory0id", Name: "cato-memory", Status: "ACTIVE"}},
	}
}

// SetLimits sets the account's maximum indexing and search OCUs; zero
// leaves a limit unset.
func (f *Fake) SetLimits(indexing, search int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.indexing, f.search = indexing, search
}

// Limits returns the account's maximum indexing and search OCUs.
func (f *Fake) Limits() (indexing, search int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.indexing, f.search
}

// SetCollections replaces the collections ListCollections returns.
func (f *Fake) SetCollections(cs ...Collection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collections = append([]Collection(nil), cs...)
}

// ServeHTTP answers one awsJson1_0 request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, err := awsfake.ReadJSON(r)
	if err != nil {
		awsfake.WriteJSONError(w, ContentType, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	f.Recorder.Record(awsfake.Call{Service: awsfake.SigningService(r), Op: op, Body: body})

	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.Take(op); ok {
		awsfake.WriteJSONError(w, ContentType, fl.Status, fl.Code, fl.Message)
		return
	}
	switch op {
	case "GetAccountSettings":
		awsfake.WriteJSON(w, ContentType, map[string]any{"accountSettingsDetail": f.settings()})
	case "UpdateAccountSettings":
		f.update(w, body)
	case "ListCollections":
		var out []map[string]string
		for _, c := range f.collections {
			out = append(out, map[string]string{
				"id": c.ID, "name": c.Name, "status": c.Status,
				"arn": "arn:aws:aoss:us-east-1:111122223333:collection/" + c.ID,
			})
		}
		awsfake.WriteJSON(w, ContentType, map[string]any{"collectionSummaries": out})
	default:
		awsfake.WriteJSONError(w, ContentType, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("the fake does not implement %s", op))
	}
}

func (f *Fake) update(w http.ResponseWriter, body []byte) {
	var in struct {
		CapacityLimits *struct {
			MaxIndexingCapacityInOCU *int32 `json:"maxIndexingCapacityInOCU"`
			MaxSearchCapacityInOCU   *int32 `json:"maxSearchCapacityInOCU"`
		} `json:"capacityLimits"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awsfake.WriteJSONError(w, ContentType, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	if cl := in.CapacityLimits; cl != nil {
		for _, v := range []struct {
			name string
			val  *int32
		}{
			{"maxIndexingCapacityInOCU", cl.MaxIndexingCapacityInOCU},
			{"maxSearchCapacityInOCU", cl.MaxSearchCapacityInOCU},
		} {
			if v.val != nil && *v.val < MinCapacityOCU {
				awsfake.WriteJSONError(w, ContentType, http.StatusBadRequest, "ValidationException", fmt.Sprintf(
					"1 validation error detected: Value '%d' at 'capacityLimits.%s' failed to satisfy constraint: "+
						"Member must have value greater than or equal to %d", *v.val, v.name, MinCapacityOCU))
				return
			}
		}
		if cl.MaxIndexingCapacityInOCU != nil {
			f.indexing = *cl.MaxIndexingCapacityInOCU
		}
		if cl.MaxSearchCapacityInOCU != nil {
			f.search = *cl.MaxSearchCapacityInOCU
		}
	}
	awsfake.WriteJSON(w, ContentType, map[string]any{"accountSettingsDetail": f.settings()})
}

func (f *Fake) settings() map[string]any {
	limits := map[string]int32{}
	if f.indexing != 0 {
		limits["maxIndexingCapacityInOCU"] = f.indexing
	}
	if f.search != 0 {
		limits["maxSearchCapacityInOCU"] = f.search
	}
	return map[string]any{"capacityLimits": limits}
}
