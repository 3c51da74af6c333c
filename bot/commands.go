package bot

import (
	"fmt"
	"strings"

	"github.com/thinktank/catobot/actions"
)

// command is a parsed /cato command.
type command struct {
	Name      string
	Component string
	Args      []string
	// Note is free text, for escalate.
	Note string
}

// mutating reports whether the command changes a system.
func (c command) mutating() bool {
	switch c.Name {
	case actions.VerbScale, actions.VerbReplicas, actions.VerbHPA, actions.VerbRollback, actions.VerbTier:
		return true
	}
	return false
}

// request returns the action request for a mutating command.
func (c command) request() actions.Request {
	return actions.Request{Component: c.Component, Verb: c.Name, Args: c.Args}
}

const helpText = "*catobot* carries out the Cato scaling runbook from Slack.\n" +
	"`/cato status [component]` — live state of every component, or one\n" +
	"`/cato scale shadow N` · `/cato scale nli N` — SageMaker instances (N, +N or -N)\n" +
	"`/cato scale ray N` — Ray Serve replicas on EKS\n" +
	"`/cato hpa ray max=N [min=N]` — Ray Serve autoscaler bounds\n" +
	"`/cato scale cache NODE_TYPE|next` · `/cato replicas cache N` — ElastiCache (Valkey)\n" +
	"`/cato scale dynamo read=N write=N` — DynamoDB provisioned capacity\n" +
	"`/cato scale opensearch indexing=N search=N` — OpenSearch Serverless capacity limits\n" +
	"`/cato rollback shadow|nli|ray|terraform` — the runbook's rollbacks\n" +
	"`/cato tier 1m|10m` — the user-scale plans\n" +
	"`/cato escalate [note]` — hand the incident to consciousness-team\n" +
	"`/cato history [component]` — recent actions · `/cato cost` — cost notes\n" +
	"A change is never made at once: you get a preview with Confirm and Cancel."

// usage lines per verb, for error messages.
var usage = map[string]string{
	actions.VerbScale:    "`/cato scale COMPONENT VALUE`, for example `/cato scale ray 100` or `/cato scale shadow +10`",
	actions.VerbReplicas: "`/cato replicas cache N`, for example `/cato replicas cache 5`",
	actions.VerbHPA:      "`/cato hpa ray max=N [min=N]`, for example `/cato hpa ray max=200`",
	actions.VerbRollback: "`/cato rollback COMPONENT`, for example `/cato rollback ray`",
	actions.VerbTier:     "`/cato tier 1m` or `/cato tier 10m`",
	"status":             "`/cato status [component]`",
	"history":            "`/cato history [component]`",
}

// parseCommand reads the text after /cato. Its errors are written for the
// person who typed it.
func parseCommand(text string, known actions.Set) (command, error) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return command{Name: "help"}, nil
	}
	c := command{Name: strings.ToLower(words[0])}
	rest := words[1:]
	switch c.Name {
	case "help":
		return c, nil
	case "cost":
		if len(rest) > 0 {
			return c, fmt.Errorf("`/cato cost` takes no arguments")
		}
		return c, nil
	case "escalate":
		c.Note = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), words[0]))
		return c, nil
	case "status", "history":
		if len(rest) > 1 {
			return c, fmt.Errorf("too many words; usage: %s", usage[c.Name])
		}
		if len(rest) == 1 {
			c.Component = strings.ToLower(rest[0])
			if _, err := known.Lookup(c.Component); err != nil {
				return c, fmt.Errorf("%s; usage: %s", actions.Explain(err), usage[c.Name])
			}
		}
		return c, nil
	case actions.VerbTier:
		if len(rest) != 1 {
			return c, fmt.Errorf("usage: %s", usage[c.Name])
		}
		c.Component = actions.Terraform
		c.Args = []string{strings.ToLower(rest[0])}
		return c, nil
	case actions.VerbScale, actions.VerbReplicas, actions.VerbHPA, actions.VerbRollback:
		if len(rest) == 0 {
			return c, fmt.Errorf("which component? usage: %s", usage[c.Name])
		}
		c.Component = strings.ToLower(rest[0])
		c.Args = rest[1:]
		if _, err := known.Lookup(c.Component); err != nil {
			return c, fmt.Errorf("%s; usage: %s", actions.Explain(err), usage[c.Name])
		}
		if c.Name != actions.VerbRollback && len(c.Args) == 0 {
			return c, fmt.Errorf("what value? usage: %s", usage[c.Name])
		}
		return c, nil
	}
	return c, fmt.Errorf("unknown command %q; try `/cato help`", words[0])
}
