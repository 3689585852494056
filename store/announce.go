package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/hivesync/hivesync/store/dbgen"
)

// Announcer tells every node that channels of the event log have new
// events. Store calls it after the statement or transaction that appended
// them committed, never inside it: a Postgres NOTIFY in a write transaction
// holds a database-wide lock through the commit and serializes every
// writer. Announce must not block on the network.
type Announcer interface {
	Announce(channels ...string)
}

// SetAnnouncer sets who is told about committed events (server/events
// publishes them on the node's bus). Without one, nodes still find new
// events when their hubs resync channel heads.
func (s *Store) SetAnnouncer(a Announcer) { s.announcer.Store(&a) }

func (s *Store) announce(channels ...string) {
	if len(channels) == 0 {
		return
	}
	if a := s.announcer.Load(); a != nil && *a != nil {
		(*a).Announce(channels...)
	}
}

// The queries that append to the event log (the ones that call the
// event_append function or insert into events themselves) are wrapped so
// the channel is announced once the append is committed: at once on the
// pool (each statement is its own transaction), at the commit in a
// transaction (txQueries). FileVersionAppend is called through
// AppendFileVersion (savegroup.go), which does the same for its groups.

// EventAppend appends an event and announces its channel.
func (s *Store) EventAppend(ctx context.Context, arg dbgen.EventAppendParams) (int64, error) {
	seq, err := s.Querier.EventAppend(ctx, arg)
	if err == nil {
		s.announce(arg.Channel)
	}
	return seq, err
}

// txQueries are the queries of one transaction; they remember the channels
// appended to, for InTx to announce after the commit.
type txQueries struct {
	*dbgen.Queries
	tx       pgx.Tx
	appended []string
	standing bool // a session's standing changed (standing.go)
}

func (q *txQueries) note(channel string) {
	for _, c := range q.appended {
		if c == channel {
			return
		}
	}
	q.appended = append(q.appended, channel)
}

func (q *txQueries) EventAppend(ctx context.Context, arg dbgen.EventAppendParams) (int64, error) {
	seq, err := q.Queries.EventAppend(ctx, arg)
	if err == nil {
		q.note(arg.Channel)
	}
	return seq, err
}

// AppendFileVersion saves one version in the transaction; its event is
// announced after the commit.
func (q *txQueries) AppendFileVersion(ctx context.Context, arg dbgen.FileVersionAppendParams) (dbgen.FileVersionAppendRow, error) {
	row, err := appendOne(ctx, dbgen.New(oneQueryBatches{q.tx}), arg)
	if err == nil {
		q.note(arg.Channel)
	}
	return row, err
}

// InTx runs fn in one transaction. fn gets the pgx.Tx (so River can enqueue a
// job atomically with the rows that ask for it) and queries bound to it. The
// transaction commits when fn returns nil and rolls back otherwise; events
// it appended are announced, and standing changes reported, once it
// committed.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx, q dbgen.Querier) error) error {
	q := &txQueries{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q.Queries, q.tx, q.appended, q.standing = dbgen.New(tx), tx, q.appended[:0], false
		return fn(tx, q)
	})
	if err == nil {
		if q.standing {
			s.standingChanged()
		}
		s.announce(q.appended...)
	}
	return err
}
