package app

import (
	"github.com/thinktank/catobot/bot"
	"github.com/thinktank/catobot/tiers"
)

// lookupTier gives the bot a user-scale plan from the runbook's tiers.
func lookupTier(name string) (bot.Tier, error) {
	t, err := tiers.Lookup(name)
	if err != nil {
		return bot.Tier{}, err
	}
	return bot.Tier{Title: t.Title, Steps: t.Steps, Info: t.Info}, nil
}
