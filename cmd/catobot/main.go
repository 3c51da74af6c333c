// The catobot command is a Slack bot for Cato's on-call team: it turns
// PagerDuty alerts into the scaling runbook's next step, carries the step
// out on AWS and Kubernetes when someone clicks, and reports in the alert's
// thread.
//
// Usage:
//
//	catobot serve [--config FILE] [--listen ADDR] [--dry-run] [--log-level LEVEL] [--log-format json|text]
//	catobot demo [--scenario FILE] [--verbose]
//	catobot check [--config FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/thinktank/catobot/app"
	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/sandbox"
)

const usage = `catobot carries out the Cato scaling runbook from Slack.

Commands:
  serve   run the bot (tokens from SLACK_APP_TOKEN, SLACK_BOT_TOKEN, PAGERDUTY_TOKEN, ...)
  demo    play a scenario against built-in fakes of Slack, PagerDuty, AWS and Kubernetes
  check   tell, line by line, whether every token, identity and permission the bot needs works

Run "catobot COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "check":
		return check(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "catobot: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (default: the runbook's built-in settings)")
	listen := fs.String("listen", ":8080", "HTTP `address` for /webhooks/pagerduty, /healthz, /readyz and /metrics")
	dryRun := fs.Bool("dry-run", false, "report what each step would call instead of calling it")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	format := fs.String("log-format", "json", "log format: json or text")
	if code, done := parse(fs, args); done {
		return code
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintf(stderr, "catobot: %v\n", err)
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "catobot: %v\n", err)
		return 2
	}
	env, err := app.ReadEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "catobot: %v\n", err)
		return 2
	}
	err = app.Run(ctx, app.Options{Config: cfg, Env: env, Listen: *listen, DryRun: *dryRun, Logger: log})
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("catobot stopped", "err", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario YAML `file` (default: the built-in GPU scenario)")
	verbose := fs.Bool("verbose", false, "print the bot's log")
	if code, done := parse(fs, args); done {
		return code
	}
	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	err := sandbox.Main(ctx, sandbox.MainOptions{Scenario: *scenario, Out: stdout, Log: slog.New(slog.NewTextHandler(logOut, nil))})
	if err != nil {
		fmt.Fprintf(stderr, "catobot demo: %v\n", err)
		return 1
	}
	return 0
}

// parse parses a command's flags; done says to exit with code: 0 after
// -h, 2 after a bad flag or a stray argument.
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "catobot %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	return 0, false
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not json or text", format)
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config `file`")
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "catobot: %v\n", err)
		return 2
	}
	ok := app.Check(ctx, cfg, os.Getenv, stdout)
	if !ok {
		return 1
	}
	return 0
}
