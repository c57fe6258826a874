//! Every SQL statement the store runs against its tables, in one place.
//!
//! Each is prepared once per connection and cached. Batch reads and writes
//! bind a whole list as ONE array parameter (`= ANY($n)`, `unnest(...)`), so
//! a set-oriented port method is one statement — one round trip — whatever
//! the list's length.

/// One upsert of the users `(id, record JSON)` (distinct ids) as literal SQL,
/// then `then` (a `COMMIT` batch): sent as one simple query, so the queued
/// user writes of a transaction travel with its `COMMIT` in one round trip
/// (`crate::known`). The ids are UUIDs (hex and dashes); each record is
/// dollar-quoted with a tag that does not occur in it, so no content can
/// end the literal (and the records are JSON text: no NUL).
pub(crate) fn put_users_then(users: &[(uuid::Uuid, String)], then: &str) -> String {
    let mut n = 0usize;
    let tag = loop {
        let tag = format!("$k{n}$");
        if !users.iter().any(|(_, r)| r.contains(&tag)) {
            break tag;
        }
        n += 1;
    };
    let mut out = String::from("INSERT INTO users (id, record) VALUES ");
    for (i, (id, record)) in users.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("('{id}'::uuid, {tag}{record}{tag})"));
    }
    out.push_str(" ON CONFLICT (id) DO UPDATE SET record = excluded.record; ");
    out.push_str(then);
    out
}

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $sql:expr;)*) => {
        $($(#[$doc])* pub const $name: &str = $sql;)*
        /// Every statement above, with its name.
        pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $name)),*];
    };
}

/// The feed horizon, as a CTE `h(below, own)`: `below` is the first sequence
/// number of the oldest transaction still in flight in this database (as of
/// this transaction's snapshot) — every event below it is committed or will
/// never be — and `own` the transaction id of this transaction, if it has one
/// (its own events are visible to it). In-flight transactions proven to
/// belong to another database of the cluster (by `pg_stat_activity`) do not
/// hold the horizon back; any transaction not proven so does.
macro_rules! horizon {
    () => {
        "WITH h AS (SELECT \
           (coalesce( \
             (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x \
               WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a \
                 WHERE a.backend_xid IS NOT NULL AND a.datid IS NOT NULL \
                   AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND a.backend_xid::text::bigint = (x::text::bigint & 4294967295))), \
             pg_snapshot_xmax(pg_current_snapshot()))::text::bigint << 16) AS below, \
           coalesce(pg_current_xact_id_if_assigned()::text::bigint, -1) AS own) "
    };
}

statements! {
    /// Starts a read snapshot.
    BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    /// Starts a write transaction and takes the writers' lock shared (a
    /// session lock: it outlives the transaction until released).
    BEGIN_WRITE = "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT pg_advisory_lock_shared(7731178603593774194)";
    /// Commits a write and releases the writers' lock.
    COMMIT_WRITE = "COMMIT; SELECT pg_advisory_unlock_shared(7731178603593774194)";
    /// Rolls a write back and releases the writers' lock.
    ROLLBACK_WRITE = "ROLLBACK; SELECT pg_advisory_unlock_shared(7731178603593774194)";
    /// Takes the writers' lock exclusively, before the transaction (and its
    /// snapshot) starts: the job then runs alone among writers.
    LOCK_ALONE = "SELECT pg_advisory_lock(7731178603593774194)";
    /// Starts a write transaction that runs alone.
    BEGIN_ALONE = "BEGIN ISOLATION LEVEL SERIALIZABLE";
    /// Commits a write that ran alone and releases the writers' lock.
    COMMIT_ALONE = "COMMIT; SELECT pg_advisory_unlock(7731178603593774194)";
    /// Rolls back a write that ran alone and releases the writers' lock.
    ROLLBACK_ALONE = "ROLLBACK; SELECT pg_advisory_unlock(7731178603593774194)";
    /// Commits.
    COMMIT = "COMMIT";
    /// Rolls back.
    ROLLBACK = "ROLLBACK";

    /// A user by id.
    USER = "SELECT id, record FROM users WHERE id = $1";
    /// Users by a list of ids.
    USERS = "SELECT id, record FROM users WHERE id = ANY($1)";
    /// The first users in id order.
    USERS_FIRST = "SELECT id, record FROM users ORDER BY id LIMIT $1";
    /// Users after an id, in id order.
    USERS_AFTER = "SELECT id, record FROM users WHERE id > $1 ORDER BY id LIMIT $2";
    /// Inserts or replaces a user.
    PUT_USER = "INSERT INTO users (id, record) VALUES ($1, $2) \
                ON CONFLICT (id) DO UPDATE SET record = excluded.record";
    /// Inserts or replaces several users (distinct ids).
    PUT_USERS = "INSERT INTO users (id, record) SELECT * FROM unnest($1::uuid[], $2::text[]) \
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record";
    /// Deletes a user.
    DELETE_USER = "DELETE FROM users WHERE id = $1";

    /// A claim by folded name.
    CLAIM = "SELECT folded, user_id, username, held_until FROM username_claims WHERE folded = $1";
    /// The claims of a user.
    CLAIMS_OF = "SELECT folded, user_id, username, held_until FROM username_claims \
                 WHERE user_id = $1 ORDER BY folded";
    /// Inserts a claim; returns no row when the folded name is claimed.
    INSERT_CLAIM = "INSERT INTO username_claims (folded, user_id, username, held_until) \
                    VALUES ($1, $2, $3, $4) ON CONFLICT (folded) DO NOTHING RETURNING 1";
    /// Replaces the claim on a folded name, if there is one.
    UPDATE_CLAIM = "UPDATE username_claims SET user_id = $2, username = $3, held_until = $4 \
                    WHERE folded = $1";
    /// Deletes the claim on a folded name.
    DELETE_CLAIM = "DELETE FROM username_claims WHERE folded = $1";

    /// One edge.
    EDGE = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
            WHERE kind = $1 AND from_id = $2 AND to_id = $3";
    /// A newest-first page of edges starting at a user.
    EDGES_FROM = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                  WHERE kind = $1 AND from_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
    /// A newest-first page of edges ending at a user.
    EDGES_TO = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                WHERE kind = $1 AND to_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
    /// `(seq, to)` of a newest-first page from a user (index-only).
    EDGE_KEYS_FROM = "SELECT seq, to_id FROM edges \
                      WHERE kind = $1 AND from_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
    /// `(seq, from)` of a newest-first page to a user (index-only).
    EDGE_KEYS_TO = "SELECT seq, from_id FROM edges \
                    WHERE kind = $1 AND to_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
    /// The edges of kind $1 from any of a list of users ($2) to one user ($3).
    EDGES_INTO = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                  WHERE kind = $1 AND from_id = ANY($2) AND to_id = $3";
    /// Every edge between a user ($1) and a list of others ($2), both
    /// directions; the second arm skips a self-edge the first returned.
    EDGES_BETWEEN = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                     WHERE kind IN (1, 2, 3, 4) AND from_id = $1 AND to_id = ANY($2) \
                     UNION ALL \
                     SELECT kind, from_id, to_id, seq, since, until FROM edges \
                     WHERE kind IN (1, 2, 3, 4) AND from_id = ANY($2) AND to_id = $1 \
                     AND from_id <> $1";
    /// Which of the pairs ($2[i], $3[i]) have an edge of kind $1.
    EDGES_EXIST = "SELECT e.from_id, e.to_id FROM unnest($2::uuid[], $3::uuid[]) AS p (f, t) \
                   JOIN edges AS e ON e.kind = $1 AND e.from_id = p.f AND e.to_id = p.t";
    /// Inserts an edge; returns no row when it exists.
    INSERT_EDGE = "INSERT INTO edges (kind, from_id, to_id, seq, since, until) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1";
    /// Inserts several edges; a duplicate fails the statement (unique violation).
    INSERT_EDGES = "INSERT INTO edges (kind, from_id, to_id, seq, since, until) \
                    SELECT * FROM unnest($1::smallint[], $2::uuid[], $3::uuid[], $4::bigint[], \
                    $5::text[], $6::text[])";
    /// Deletes an edge and returns it.
    DELETE_EDGE = "DELETE FROM edges WHERE kind = $1 AND from_id = $2 AND to_id = $3 \
                   RETURNING kind, from_id, to_id, seq, since, until";

    /// A room by id.
    ROOM = "SELECT id, record FROM rooms WHERE id = $1";
    /// Rooms by a list of ids.
    ROOMS = "SELECT id, record FROM rooms WHERE id = ANY($1)";
    /// Inserts or replaces a room.
    PUT_ROOM = "INSERT INTO rooms (id, record) VALUES ($1, $2) \
                ON CONFLICT (id) DO UPDATE SET record = excluded.record";
    /// Deletes a room.
    DELETE_ROOM = "DELETE FROM rooms WHERE id = $1";

    /// One membership.
    MEMBERSHIP = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
                  WHERE room_id = $1 AND user_id = $2";
    /// A user's memberships, most recent first.
    MEMBERSHIPS_OF = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
                      WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3";
    /// A room's members, longest-standing first.
    MEMBERS = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
               WHERE room_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3";
    /// The memberships of a room held by a list of users.
    MEMBERSHIPS_IN = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
                      WHERE room_id = $1 AND user_id = ANY($2)";
    /// Inserts or replaces a membership.
    PUT_MEMBERSHIP = "INSERT INTO memberships (room_id, user_id, role, joined_at, seq) \
                      VALUES ($1, $2, $3, $4, $5) \
                      ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role, \
                      joined_at = excluded.joined_at, seq = excluded.seq";
    /// Deletes a membership and returns it.
    DELETE_MEMBERSHIP = "DELETE FROM memberships WHERE room_id = $1 AND user_id = $2 \
                         RETURNING room_id, user_id, role, joined_at, seq";

    /// One connected account.
    ACCOUNT = "SELECT user_id, provider, external_id, handle, connected_at \
               FROM connected_accounts WHERE provider = $1 AND external_id = $2";
    /// A user's connected accounts, oldest first, ties by provider and id.
    ACCOUNTS_OF = "SELECT user_id, provider, external_id, handle, connected_at \
                   FROM connected_accounts WHERE user_id = $1 \
                   ORDER BY connected_at, provider, external_id";
    /// Inserts a connected account; returns no row when linked already.
    INSERT_ACCOUNT = "INSERT INTO connected_accounts \
                      (user_id, provider, external_id, handle, connected_at) \
                      VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1";
    /// Deletes a connected account and returns it.
    DELETE_ACCOUNT = "DELETE FROM connected_accounts WHERE provider = $1 AND external_id = $2 \
                      RETURNING user_id, provider, external_id, handle, connected_at";

    /// Feed events after $1, in order (feed order `commit`: every visible
    /// event is final).
    CHANGES_SINCE = "SELECT seq, at, change FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2";
    /// The floor (the highest trimmed or raised-past sequence number) and
    /// the highest stored one.
    LAST_SEQ = "SELECT (SELECT trimmed FROM feed_meta WHERE id = 1), (SELECT max(seq) FROM changes)";
    /// Appends one event (feed order `commit`): takes the feed lock (held
    /// until the transaction ends), then the next number.
    INSERT_CHANGE = "INSERT INTO changes (seq, at, change) \
                     SELECT nextval('feed_seq'), $2, $3 FROM (SELECT pg_advisory_xact_lock($1)) AS l \
                     RETURNING seq";
    /// Appends events in order (feed order `commit`).
    INSERT_CHANGES = "INSERT INTO changes (seq, at, change) \
                      SELECT nextval('feed_seq'), $2, t.c \
                      FROM (SELECT pg_advisory_xact_lock($1)) AS l, \
                      unnest($3::text[]) WITH ORDINALITY AS t (c, o) RETURNING seq";

    /// Raises the feed to $2 (feed order `commit`; `WriteTx::raise_seq`) in
    /// one statement, no events: takes the feed lock (so no transaction
    /// holding a smaller number is still in flight), moves `feed_seq` to at
    /// least $2 (the next number is above it; `setval` is not undone by a
    /// rollback, which only leaves a gap) and raises the floor `last_seq`
    /// reports (`feed_meta.trimmed`) to $2, which a rollback does undo.
    RAISE_SEQ = "UPDATE feed_meta SET trimmed = greatest(trimmed, $2) \
                 FROM (SELECT setval('feed_seq', greatest($2, coalesce(pg_sequence_last_value('feed_seq'), 0))) \
                       FROM (SELECT pg_advisory_xact_lock($1)) AS l) AS s \
                 WHERE id = 1 RETURNING s.setval";

    /// Takes $2 numbers from the feed's sequence under the feed lock, no
    /// events (feed order `commit`; `WriteTx::reserve_seqs`).
    RESERVE_SEQS = "SELECT nextval('feed_seq') FROM (SELECT pg_advisory_xact_lock($1)) AS l, \
                    generate_series(1, $2::bigint) AS g";
    /// The $1-th to ($1+$2-1)-th numbers of this transaction, no events
    /// (feed order `xid`; `WriteTx::reserve_seqs`).
    RESERVE_SEQS_XID = "SELECT (pg_current_xact_id()::text::bigint << 16) + $1 + g - 1 \
                        FROM generate_series(1, $2::bigint) AS g";

    /// Feed events after $1, in order, below the horizon (feed order `xid`).
    CHANGES_SINCE_XID = concat!(horizon!(),
        "SELECT c.seq, c.at, c.change FROM changes AS c, h \
         WHERE c.seq > $1 AND (c.seq < h.below OR c.seq >> 16 = h.own) \
         ORDER BY c.seq LIMIT $2");
    /// The highest trimmed sequence number and the highest one below the
    /// horizon (feed order `xid`).
    LAST_SEQ_XID = concat!(horizon!(),
        "SELECT (SELECT trimmed FROM feed_meta WHERE id = 1), \
         (SELECT max(c.seq) FROM changes AS c, h WHERE c.seq < h.below OR c.seq >> 16 = h.own)");
    /// Appends one event as the $1-th of this transaction (feed order `xid`).
    INSERT_CHANGE_XID = "INSERT INTO changes (seq, at, change) \
                     VALUES ((pg_current_xact_id()::text::bigint << 16) + $1, $2, $3) RETURNING seq";
    /// Appends events as the $1-th, $1+1-th, … of this transaction (feed order `xid`).
    INSERT_CHANGES_XID = "INSERT INTO changes (seq, at, change) \
                      SELECT (pg_current_xact_id()::text::bigint << 16) + $1 + t.o - 1, $2, t.c \
                      FROM unnest($3::text[]) WITH ORDINALITY AS t (c, o) RETURNING seq";
    /// Trims the feed and remembers the highest trimmed sequence number.
    TRIM_CHANGES = "WITH d AS (DELETE FROM changes WHERE seq <= $1 RETURNING seq), \
                    m AS (UPDATE feed_meta SET trimmed = greatest(trimmed, (SELECT max(seq) FROM d)) \
                          WHERE id = 1 AND EXISTS (SELECT 1 FROM d)) \
                    SELECT count(*) FROM d";
}

#[cfg(test)]
mod tests {
    use super::put_users_then;

    #[test]
    fn commit_batch_quotes_each_record_with_a_tag_it_does_not_contain() {
        let id = uuid::Uuid::nil();
        let plain = put_users_then(&[(id, r#"{"bio":"it's"}"#.to_owned())], "COMMIT");
        assert!(plain.contains(r#"$k0${"bio":"it's"}$k0$"#), "{plain}");
        assert!(plain.ends_with("; COMMIT"), "{plain}");
        let hostile = put_users_then(
            &[(id, r#"{"bio":"$k0$'); DROP TABLE users; --"}"#.to_owned())],
            "COMMIT",
        );
        assert!(
            hostile.contains(r#"$k1${"bio":"$k0$'); DROP TABLE users; --"}$k1$"#),
            "{hostile}"
        );
    }
}
