package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ec "github.com/aws/aws-sdk-go-v2/service/elasticache"
	aoss "github.com/aws/aws-sdk-go-v2/service/opensearchserverless"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/dynamodb"
	"github.com/thinktank/catobot/actions/elasticache"
	"github.com/thinktank/catobot/actions/opensearch"
	"github.com/thinktank/catobot/actions/rayserve"
	"github.com/thinktank/catobot/actions/sagemaker"
	"github.com/thinktank/catobot/actions/terraform"
	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/telemetry"
)

// buildActions turns the configuration into the bot's components. AWS
// clients come from the SDK's own configuration chain, so the usual
// variables (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_SAGEMAKER, …) apply.
func buildActions(ctx context.Context, cfg config.Config, dryRun bool, log *slog.Logger) (actions.Set, error) {
	awsCfg, err := loadAWS(ctx, nil)
	if err != nil {
		return nil, err
	}
	return buildActionsWith(cfg, awsCfg, dryRun, log)
}

// loadAWS reads the AWS SDK's own configuration chain and counts API
// errors in metrics, when given.
func loadAWS(ctx context.Context, metrics *telemetry.Metrics) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return awsCfg, fmt.Errorf("aws: load configuration: %w", err)
	}
	if metrics != nil {
		awsCfg.APIOptions = append(awsCfg.APIOptions, metrics.AWSAPIOption)
	}
	return awsCfg, nil
}

// buildActionsWith is buildActions with the AWS configuration given.
func buildActionsWith(cfg config.Config, awsCfg aws.Config, dryRun bool, log *slog.Logger) (actions.Set, error) {
	var err error
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

	dyn, err := dynamodb.New(cfg.Components.Dynamo, ddb.NewFromConfig(awsCfg),
		dynamodb.Options{DryRun: dryRun, Logger: log.With("component", actions.Dynamo)})
	if err != nil {
		return nil, fmt.Errorf("components.dynamo: %w", err)
	}
	set[actions.Dynamo] = dyn

	os, err := opensearch.New(cfg.Components.OpenSearch, aoss.NewFromConfig(awsCfg),
		opensearch.Options{DryRun: dryRun, Logger: log.With("component", actions.OpenSearch)})
	if err != nil {
		return nil, fmt.Errorf("components.opensearch: %w", err)
	}
	set[actions.OpenSearch] = os

	tf, err := terraform.New(cfg.Components.Terraform, terraform.Options{DryRun: dryRun, Logger: log.With("component", actions.Terraform)})
	if err != nil {
		return nil, fmt.Errorf("components.terraform: %w", err)
	}
	set[actions.Terraform] = tf

	kube, err := kubeClient()
	if err != nil {
		log.Warn("ray serve off", "reason", "no Kubernetes configuration", "err", err)
		return set, nil
	}
	ray, err := rayserve.New(cfg.Components.Ray, kube, rayserve.Options{DryRun: dryRun, Logger: log.With("component", actions.Ray)})
	if err != nil {
		return nil, fmt.Errorf("components.ray: %w", err)
	}
	set[actions.Ray] = ray
	return set, nil
}

// kubeClient follows kubectl's rules: KUBECONFIG or ~/.kube/config, else
// the in-cluster service account.
func kubeClient() (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if cfg, err = rest.InClusterConfig(); err != nil {
			return nil, err
		}
	}
	cfg.UserAgent = "catobot"
	return kubernetes.NewForConfig(cfg)
}

// limits returns each component's guardrails.
func limits(cfg config.Config) map[string]actions.Limits {
	return cfg.Limits()
}
