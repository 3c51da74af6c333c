package dynamodb

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"

	"github.com/thinktank/catobot/actions"
)

// FreeDecreases is how many throughput decreases DynamoDB allows a table
// at any time in one UTC day; after them, one an hour.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#default-limits-throughput
const FreeDecreases = 4

// nextDecreaseRE finds the time DynamoDB names in a LimitExceededException
// about decreases.
var nextDecreaseRE = regexp.MustCompile(`(?i)next decrease can be made at ([^.]+?)\.?\s*$`)

// explain turns a DynamoDB API error from op on table into an
// *actions.Error whose message a person can act on. p, when it carries the
// table's decrease history, lets a refused decrease say when the next one
// is allowed even if DynamoDB's message does not.
func explain(err error, op, table string, p map[string]string) error {
	return actions.AWSError(err, actions.AWSCall{
		Service: title, Prefix: "dynamodb", Op: op, Target: table,
		Codes: func(api smithy.APIError, wrapped error) error {
			return codeError(api, wrapped, table, p)
		},
	})
}

// codeError maps DynamoDB's own error codes, or returns nil for a code
// left to actions.AWSError.
func codeError(api smithy.APIError, wrapped error, table string, p map[string]string) error {
	reason := api.ErrorMessage()
	switch api.ErrorCode() {
	case "LimitExceededException":
		if strings.Contains(strings.ToLower(reason), "decrease") {
			msg := decreaseRefused(table, reason, p)
			return actions.Errorf(actions.KindRefused, wrapped, "%s", msg)
		}
		return actions.Errorf(actions.KindUnavailable, wrapped,
			"DynamoDB refused: too many table operations at once in this account (%s); "+
				"try again in a few minutes", reason)
	case "ResourceInUseException":
		return actions.Errorf(actions.KindBusy, wrapped,
			"%s is being changed already (%s); wait until it is ACTIVE, then try again", table, reason)
	case "ValidationException":
		return actions.Errorf(actions.KindUsage, wrapped,
			"DynamoDB refused the new throughput: %s", reason)
	case "ResourceNotFoundException":
		return actions.Errorf(actions.KindNotFound, wrapped, "table %s does not exist", table)
	}
	return nil
}

// decreaseRefused explains DynamoDB's limit on decreases and, where known,
// when the next decrease is allowed.
func decreaseRefused(table, reason string, p map[string]string) string {
	msg := fmt.Sprintf("DynamoDB refused to lower the throughput of %s: a table's throughput may be "+
		"decreased %d times in a UTC day, then once an hour", table, FreeDecreases)
	if m := nextDecreaseRE.FindStringSubmatch(reason); m != nil {
		return msg + "; the next decrease is allowed at " + m[1]
	}
	if next, ok := nextDecrease(p); ok {
		return msg + "; the next decrease is allowed at " + next.Format("2006-01-02 15:04 MST")
	}
	return msg + "; try again in an hour"
}

// nextDecrease works out from a plan's decrease history when DynamoDB
// allows the next decrease: an hour after the last one, or at the next UTC
// midnight when that comes first.
func nextDecrease(p map[string]string) (time.Time, bool) {
	n, err1 := strconv.Atoi(p[paramDecreases])
	last, err2 := time.Parse(time.RFC3339, p[paramLastDecrease])
	if err1 != nil || err2 != nil || n < FreeDecreases {
		return time.Time{}, false
	}
	last = last.UTC()
	next := last.Add(time.Hour)
	midnight := time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, time.UTC)
	if midnight.Before(next) {
		next = midnight
	}
	return next, true
}
