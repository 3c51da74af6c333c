package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer"

	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/cost"
	"github.com/thinktank/catobot/monitor"
)

var severityIcon = map[string]string{
	monitor.SeverityOK:       ":large_green_circle:",
	monitor.SeverityWarning:  ":large_yellow_circle:",
	monitor.SeverityCritical: ":red_circle:",
	monitor.SeverityNoData:   ":white_circle:",
}

// metricsReader reads the runbook's key metrics for /cato status, one line
// each, with the step a breached threshold suggests.
func metricsReader(cfg config.Config, awsCfg aws.Config, log *slog.Logger) (func(context.Context) ([]string, error), error) {
	m, err := monitor.New(cfg.Monitoring, cloudwatch.NewFromConfig(awsCfg), monitor.Options{Logger: log.With("component", "monitor")})
	if err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	return func(ctx context.Context) ([]string, error) {
		readings, err := m.Read(ctx)
		if err != nil {
			return nil, err
		}
		lines := make([]string, 0, len(readings))
		for _, r := range readings {
			line := severityIcon[r.Severity] + " " + r.Text
			if req, ok := r.Suggestion(); ok {
				line += " → `/cato " + req.String() + "`"
				if r.Metric.Escalate {
					line += " and escalate"
				}
			}
			lines = append(lines, line)
		}
		return lines, nil
	}, nil
}

// costReporter writes /cato cost from Compute Optimizer and the runbook's
// notes. It only reads.
func costReporter(cfg config.Config, awsCfg aws.Config, log *slog.Logger) (func(context.Context) (string, error), error) {
	r, err := cost.New(cfg.Cost, computeoptimizer.NewFromConfig(awsCfg), cost.Options{Logger: log.With("component", "cost")})
	if err != nil {
		return nil, fmt.Errorf("cost: %w", err)
	}
	return func(ctx context.Context) (string, error) {
		rep, err := r.Report(ctx)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		b.WriteString("*Cost* (read only; catobot never buys anything)")
		if len(rep.Recommendations) == 0 && !rep.OptInRequired {
			b.WriteString("\nCompute Optimizer has no EC2 right-sizing recommendations.")
		}
		for _, rec := range rep.Recommendations {
			b.WriteString("\n• " + rec.Text())
		}
		for _, n := range rep.Notes {
			b.WriteString("\n" + n)
		}
		return b.String(), nil
	}, nil
}
