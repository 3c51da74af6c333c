package elasticache

import (
	"github.com/aws/smithy-go"

	"github.com/thinktank/catobot/actions"
)

// explain turns an ElastiCache API error from op on group into an
// *actions.Error whose message a person can act on. It matches on the
// smithy error code first, then on the HTTP status.
func explain(err error, op, group string) error {
	return actions.AWSError(err, actions.AWSCall{
		Service: title, Prefix: "elasticache", Op: op, Target: group,
		Codes: func(api smithy.APIError, wrapped error) error {
			return codeError(api, wrapped, group)
		},
	})
}

// codeError maps ElastiCache's own error codes, or returns nil for a code
// left to actions.AWSError.
func codeError(api smithy.APIError, wrapped error, group string) error {
	reason := api.ErrorMessage()
	switch api.ErrorCode() {
	case "InvalidReplicationGroupState":
		return actions.Errorf(actions.KindBusy, wrapped,
			"%s is not in a state that allows this change (%s); "+
				"wait until it is available and try again", group, reason)
	case "InvalidParameterValue", "InvalidParameterCombination":
		return actions.Errorf(actions.KindUsage, wrapped,
			"ElastiCache refused the request: %s", reason)
	case "InsufficientCacheClusterCapacity":
		return actions.Errorf(actions.KindRefused, wrapped,
			"AWS has no capacity for that node type in this region right now (%s); "+
				"try another node type or later", reason)
	case "NodeQuotaForCustomerExceeded", "NodeQuotaForClusterExceeded":
		return actions.Errorf(actions.KindRefused, wrapped,
			"the change would exceed the account's ElastiCache node quota (%s); "+
				"ask for a quota increase first", reason)
	case "ReplicationGroupNotFoundFault":
		return actions.Errorf(actions.KindNotFound, wrapped,
			"replication group %s does not exist", group)
	case "NoOperationFault":
		return actions.Errorf(actions.KindUsage, wrapped,
			"nothing to change on %s: %s", group, reason)
	}
	return nil
}
