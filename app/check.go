package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/slack-go/slack"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/config"
)

// checkTimeout bounds each preflight check.
const checkTimeout = 20 * time.Second

// Check tells, one line per item, whether what the bot needs works: the
// tokens, the AWS identity, each runbook resource and PagerDuty. It
// reports whether everything needed passed.
func Check(ctx context.Context, cfg config.Config, getenv func(string) string, w io.Writer) bool {
	ok := true
	line := func(pass bool, what, detail string) {
		mark := "ok  "
		if !pass {
			mark = "FAIL"
			ok = false
		}
		fmt.Fprintf(w, "%s %-34s %s\n", mark, what, detail)
	}
	env, err := ReadEnv(getenv)
	if err != nil {
		line(false, "environment", err.Error())
		return false
	}
	line(true, "environment", "tokens present and well formed")

	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	api := slack.New(env.SlackBotToken.Reveal(), slack.OptionAppLevelToken(env.SlackAppToken.Reveal()),
		slack.OptionAPIURL(slackAPIURL(env.SlackAPIURL)))
	if auth, err := api.AuthTestContext(cctx); err != nil {
		line(false, "slack bot token (auth.test)", err.Error())
	} else {
		line(true, "slack bot token (auth.test)", "bot user "+auth.UserID+" in "+auth.Team)
	}
	if _, _, err := api.StartSocketModeContext(cctx); err != nil {
		line(false, "slack app token (socket mode)", err.Error())
	} else {
		line(true, "slack app token (socket mode)", "apps.connections.open works")
	}

	awsCfg, err := awsconfig.LoadDefaultConfig(cctx)
	if err != nil {
		line(false, "aws configuration", err.Error())
	} else if id, err := sts.NewFromConfig(awsCfg).GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{}); err != nil {
		line(false, "aws identity (sts)", err.Error())
	} else {
		line(true, "aws identity (sts)", deref(id.Arn))
	}

	set, err := buildActions(cctx, cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		line(false, "components", err.Error())
	}
	for _, name := range set.Names() {
		s, err := set[name].Status(cctx)
		if err != nil {
			line(false, "describe "+name, actions.Explain(err))
			continue
		}
		line(true, "describe "+name, s.Target+" "+s.State)
	}

	if env.PagerDutyToken.IsZero() {
		line(true, "pagerduty", "PAGERDUTY_TOKEN not set: card buttons and alert details are off")
	} else if pd, err := newPager(cfg, env, slog.New(slog.DiscardHandler)); err != nil {
		line(false, "pagerduty", err.Error())
	} else if _, err := pd.OpenIncidents(cctx, time.Now().Add(-time.Hour)); err != nil {
		line(false, "pagerduty read incidents", err.Error())
	} else {
		line(true, "pagerduty read incidents", "token can list incidents")
	}
	return ok
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
