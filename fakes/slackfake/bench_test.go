package slackfake_test

import (
	"context"
	"testing"

	"github.com/thinktank/catobot/fakes/slackfake"
)

// BenchmarkRoundTrip measures the raw envelope → ack round trip through a
// real socketmode client that acks at once: the baseline for the bot's
// ack latency.
func BenchmarkRoundTrip(b *testing.B) {
	fake := newFake(b, slackfake.Options{})
	startBot(b, fake, nil)
	ctx := context.Background()
	args := slackfake.SlashArgs{Text: "status shadow", User: "U0ONCALL01"}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := fake.SlashCommand(ctx, args); err != nil {
			b.Fatal(err)
		}
	}
}
