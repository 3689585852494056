package auth

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store/dbgen"
)

// The standing cache answers only while live, never keeps a row read
// across a change, forgets a user's sessions together, and stays bounded.
func TestStandingCache(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	row := func(user uuid.UUID) dbgen.SessionPrincipalRow {
		return dbgen.SessionPrincipalRow{ID: uuid.New(), UserID: user}
	}
	setup := func() *standings {
		c := &standings{}
		c.setLive(true)
		return c
	}

	t.Run("unused_until_live", func(t *testing.T) {
		t.Parallel()
		c := &standings{}
		r := row(uuid.New())
		_, gen, _ := c.get(r.ID, t0)
		c.put(standing{row: r, read: t0}, gen)
		_, _, ok := c.get(r.ID, t0.Add(-time.Second))
		require.False(t, ok)
	})
	t.Run("a_row_read_across_a_change_is_not_kept", func(t *testing.T) {
		t.Parallel()
		c := setup()
		r := row(uuid.New())
		_, gen, ok := c.get(r.ID, t0)
		require.False(t, ok)
		c.forgetUser(uuid.New()) // any change while the row was being read
		c.put(standing{row: r, read: t0}, gen)
		_, _, ok = c.get(r.ID, t0.Add(-time.Second))
		require.False(t, ok)
	})
	t.Run("entries_expire_and_users_are_forgotten_whole", func(t *testing.T) {
		t.Parallel()
		c := setup()
		ada, bob := uuid.New(), uuid.New()
		a1, a2, b1 := row(ada), row(ada), row(bob)
		for _, r := range []dbgen.SessionPrincipalRow{a1, a2, b1} {
			_, gen, _ := c.get(r.ID, t0)
			c.put(standing{row: r, read: t0}, gen)
		}
		got, _, ok := c.get(a1.ID, t0.Add(-StandingTTL))
		require.True(t, ok)
		require.Equal(t, a1, got.row)
		_, _, ok = c.get(a1.ID, t0) // read at t0, not after it: too old
		require.False(t, ok)
		c.forgetUser(ada)
		for _, id := range []uuid.UUID{a1.ID, a2.ID} {
			_, _, ok = c.get(id, t0.Add(-time.Second))
			require.False(t, ok)
		}
		_, _, ok = c.get(b1.ID, t0.Add(-time.Second))
		require.True(t, ok, "another user's session stays")
		c.setLive(false)
		_, _, ok = c.get(b1.ID, t0.Add(-time.Second))
		require.False(t, ok, "not listening: nothing is trusted")
	})
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		c := setup()
		for i := range maxStandings + 10 {
			r := row(uuid.New())
			_, gen, _ := c.get(r.ID, t0)
			c.put(standing{row: r, read: t0.Add(time.Duration(i) * time.Millisecond)}, gen)
		}
		require.LessOrEqual(t, len(c.entries), maxStandings)
		require.Greater(t, len(c.entries), maxStandings/4)
		users := 0
		for _, sessions := range c.byUser {
			users += len(sessions)
		}
		require.Equal(t, len(c.entries), users, "the per-user index follows evictions")
	})
}
