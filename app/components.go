package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	ec "github.com/aws/aws-sdk-go-v2/service/elasticache"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/elasticache"
	"github.com/thinktank/catobot/actions/sagemaker"
	"github.com/thinktank/catobot/config"
)

// buildActions turns the configuration into the bot's components. AWS
// clients come from the SDK's own configuration chain, so the usual
// variables (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_SAGEMAKER, …) apply.
func buildActions(ctx context.Context, cfg config.Config, dryRun bool, log *slog.Logger) (actions.Set, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws: load configuration: %w", err)
	}
	set := actions.Set{}

	smClient := sm.NewFromConfig(awsCfg)
	for _, c := range []sagemaker.Config{cfg.Components.Shadow, cfg.Components.NLI} {
		a, err := sagemaker.New(c, smClient, sagemaker.Options{DryRun: dryRun, Logger: log.With("component", c.Component)})
		if err != nil {
			return nil, fmt.Errorf("components.%s: %w", c.Component, err)
		}
		set[c.Component] = a
	}

	cache, err := elasticache.New(cfg.Components.Cache, ec.NewFromConfig(awsCfg),
		elasticache.Options{DryRun: dryRun, Logger: log.With("component", actions.Cache)})
	if err != nil {
		return nil, fmt.Errorf("components.cache: %w", err)
	}
	set[actions.Cache] = cache
	return set, nil
}

// limits returns each component's guardrails.
func limits(cfg config.Config) map[string]actions.Limits {
	return cfg.Limits()
}

var _ = aws.String
