package alerts

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memInbox is an Inbox in memory that records what it was told.
type memInbox struct {
	mu   sync.Mutex
	kept map[string][]byte
	done []string
}

func (m *memInbox) Put(_ context.Context, id string, event []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kept[id] = append([]byte(nil), event...)
	return nil
}

func (m *memInbox) Done(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kept, id)
	m.done = append(m.done, id)
	return nil
}

func (m *memInbox) snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range m.kept {
		out[k] = v
	}
	return out
}

func TestInboxKeepsAnEventUntilHandled(t *testing.T) {
	box := &memInbox{kept: map[string][]byte{}}
	env := newWebhookEnv(t, func(o *WebhookOptions) { o.Inbox = box })
	hold := env.pd.holdAlerts()

	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.triggered.json", ""))
	kept := box.snapshot()
	require.Len(t, kept, 1, "an accepted event is kept before the 202")

	close(hold)
	e := env.sink.next(t)
	require.Eventually(t, func() bool { return len(box.snapshot()) == 0 }, 10*time.Second, 10*time.Millisecond)

	// A process that died before handling it: another replays what it kept.
	other := newWebhookEnv(t, nil)
	n, err := other.hook.Replay(context.Background(), kept)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	replayed := other.sink.next(t)
	require.Equal(t, e.ID, replayed.ID)
	require.Equal(t, IncidentTriggered, replayed.Type)
}
