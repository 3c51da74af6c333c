package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// groupCache keeps user group members for a short while, so a burst of
// clicks asks Slack once.
type groupCache struct {
	api SlackAPI
	ttl time.Duration

	mu      sync.Mutex
	members map[string][]string
	fetched map[string]time.Time
}

func newGroupCache(api SlackAPI, ttl time.Duration) *groupCache {
	return &groupCache{api: api, ttl: ttl, members: map[string][]string{}, fetched: map[string]time.Time{}}
}

func (g *groupCache) has(ctx context.Context, group, user string) (bool, error) {
	g.mu.Lock()
	m, ok := g.members[group]
	fresh := ok && time.Since(g.fetched[group]) < g.ttl
	g.mu.Unlock()
	if !fresh {
		var err error
		m, err = g.api.GetUserGroupMembersContext(ctx, group)
		if err != nil {
			return false, fmt.Errorf("slack: list members of group %s: %w", group, err)
		}
		g.mu.Lock()
		g.members[group] = m
		g.fetched[group] = time.Now()
		g.mu.Unlock()
	}
	return slices.Contains(m, user), nil
}

// mayAct reports whether user may run steps that change systems, and if
// not, why in words.
func (b *Bot) mayAct(ctx context.Context, user string) (bool, string) {
	a := b.opts.Access
	if slices.Contains(a.Users, user) {
		return true, ""
	}
	for _, g := range a.Groups {
		ok, err := b.group.has(ctx, g, user)
		if err != nil {
			b.log.Warn("access check failed", "group", g, "err", err)
			return false, "I could not check your group membership with Slack; try again in a minute"
		}
		if ok {
			return true, ""
		}
	}
	if len(a.Users) == 0 && len(a.Groups) == 0 {
		return false, "nobody is allowed to change systems yet: an admin must list users or groups under `access` in catobot's config"
	}
	return false, "you are not on the list of people allowed to change systems (catobot's `access` config); everyone may use `status`, `history` and `help`"
}

// channelAllowed reports whether /cato may change systems from channel.
func (b *Bot) channelAllowed(id, name string) bool {
	allowed := b.opts.Access.Channels
	if len(allowed) == 0 {
		allowed = []string{b.opts.Channel, b.opts.ChannelName}
	}
	for _, c := range allowed {
		c = strings.TrimPrefix(c, "#")
		if c != "" && (c == id || c == name) {
			return true
		}
	}
	return false
}
