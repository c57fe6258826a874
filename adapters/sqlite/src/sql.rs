//! Every SQL statement the store runs against its tables, in one place.
//!
//! The store only ever prepares these constants (through
//! `prepare_cached`), and [`ALL`] lists every one of them, so a test can run
//! `EXPLAIN QUERY PLAN` over the complete set and prove that no statement
//! scans a table that grows with users or edges (see `tests/query_plans.rs`).
//!
//! Batch reads bind their id list as one `rarray(?)` parameter (rusqlite's
//! port of SQLite's `carray`), so a page of any size is one statement.

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $sql:expr;)*) => {
        $($(#[$doc])* pub const $name: &str = $sql;)*
        /// Every statement above, with its name.
        pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $name)),*];
    };
}

statements! {
    /// Starts a read snapshot.
    BEGIN_READ = "BEGIN DEFERRED";
    /// Starts the write transaction, taking the write lock at once.
    BEGIN_WRITE = "BEGIN IMMEDIATE";
    /// Commits.
    COMMIT = "COMMIT";
    /// Rolls back.
    ROLLBACK = "ROLLBACK";
    /// Starts one job inside a group-committed write transaction.
    SAVEPOINT = "SAVEPOINT job";
    /// Keeps a job's changes in the transaction.
    RELEASE = "RELEASE job";
    /// Undoes a failed job's changes (followed by [`RELEASE`]).
    ROLLBACK_TO = "ROLLBACK TO job";

    /// A user by id.
    USER = "SELECT id, record FROM users WHERE id = ?1";
    /// Users by a list of ids.
    USERS = "SELECT id, record FROM users WHERE id IN rarray(?1)";
    /// Users after an id, in id order.
    USERS_AFTER = "SELECT id, record FROM users WHERE id > ?1 ORDER BY id LIMIT ?2";
    /// Inserts or replaces a user (an upsert, never a delete + insert).
    PUT_USER = "INSERT INTO users (id, record) VALUES (?1, ?2) \
                ON CONFLICT (id) DO UPDATE SET record = excluded.record";
    /// Deletes a user.
    DELETE_USER = "DELETE FROM users WHERE id = ?1";

    /// A claim by folded name.
    CLAIM = "SELECT folded, user_id, username, held_until FROM username_claims WHERE folded = ?1";
    /// The claims of a user.
    CLAIMS_OF = "SELECT folded, user_id, username, held_until FROM username_claims \
                 WHERE user_id = ?1 ORDER BY folded";
    /// Inserts a claim; the primary key makes it fail on a taken folded name.
    INSERT_CLAIM = "INSERT INTO username_claims (folded, user_id, username, held_until) \
                    VALUES (?1, ?2, ?3, ?4)";
    /// Replaces the claim on a folded name.
    UPDATE_CLAIM = "INSERT INTO username_claims (folded, user_id, username, held_until) \
                    VALUES (?1, ?2, ?3, ?4) \
                    ON CONFLICT (folded) DO UPDATE SET user_id = excluded.user_id, \
                    username = excluded.username, held_until = excluded.held_until";
    /// Deletes the claim on a folded name.
    DELETE_CLAIM = "DELETE FROM username_claims WHERE folded = ?1";

    /// One edge.
    EDGE = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
            WHERE kind = ?1 AND from_id = ?2 AND to_id = ?3";
    /// A newest-first page of edges starting at a user.
    EDGES_FROM = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                  WHERE kind = ?1 AND from_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
    /// A newest-first page of edges ending at a user.
    EDGES_TO = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                WHERE kind = ?1 AND to_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
    /// `(seq, to)` of a newest-first page of edges from a user: answered from
    /// the `(kind, from_id, seq)` index alone (it holds the primary key too).
    EDGE_KEYS_FROM = "SELECT seq, to_id FROM edges \
                      WHERE kind = ?1 AND from_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
    /// `(seq, from)` of a newest-first page of edges ending at a user, from
    /// the `(kind, to_id, seq)` index alone.
    EDGE_KEYS_TO = "SELECT seq, from_id FROM edges \
                    WHERE kind = ?1 AND to_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
    /// The edges of kind ?1 from any of a list of users (?2) to one user
    /// (?3): one primary-key probe per listed user.
    EDGES_INTO = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                  WHERE kind = ?1 AND from_id IN rarray(?2) AND to_id = ?3";
    /// Every edge between a user (?1) and a list of others (?2), both
    /// directions: two primary-key probes per (kind, other) pair. The second
    /// arm skips a self-edge the first arm already returned.
    EDGES_BETWEEN = "SELECT kind, from_id, to_id, seq, since, until FROM edges \
                     WHERE kind IN (1, 2, 3, 4) AND from_id = ?1 AND to_id IN rarray(?2) \
                     UNION ALL \
                     SELECT kind, from_id, to_id, seq, since, until FROM edges \
                     WHERE kind IN (1, 2, 3, 4) AND from_id IN rarray(?2) AND to_id = ?1 \
                     AND from_id <> ?1";
    /// Which of a list of `(from, to)` pairs (?2: 32-byte blobs, from then
    /// to) have an edge of kind ?1: one primary-key probe per pair, the list
    /// driving the loop (`CROSS JOIN` keeps that order).
    EDGES_EXIST = "SELECT e.from_id, e.to_id FROM rarray(?2) AS p CROSS JOIN edges AS e \
                   WHERE e.kind = ?1 AND e.from_id = substr(p.value, 1, 16) \
                   AND e.to_id = substr(p.value, 17, 16)";
    /// Inserts an edge; the primary key makes it fail on a duplicate.
    INSERT_EDGE = "INSERT INTO edges (kind, from_id, to_id, seq, since, until) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    /// Deletes an edge and returns it.
    DELETE_EDGE = "DELETE FROM edges WHERE kind = ?1 AND from_id = ?2 AND to_id = ?3 \
                   RETURNING kind, from_id, to_id, seq, since, until";

    /// A room by id.
    ROOM = "SELECT id, record FROM rooms WHERE id = ?1";
    /// Rooms by a list of ids.
    ROOMS = "SELECT id, record FROM rooms WHERE id IN rarray(?1)";
    /// Inserts or replaces a room (an upsert, never a delete + insert).
    PUT_ROOM = "INSERT INTO rooms (id, record) VALUES (?1, ?2) \
                ON CONFLICT (id) DO UPDATE SET record = excluded.record";
    /// Deletes a room.
    DELETE_ROOM = "DELETE FROM rooms WHERE id = ?1";

    /// One membership.
    MEMBERSHIP = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
                  WHERE room_id = ?1 AND user_id = ?2";
    /// A user's memberships, most recent first.
    MEMBERSHIPS_OF = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
                      WHERE user_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
    /// A room's members, longest-standing first.
    MEMBERS = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
               WHERE room_id = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3";
    /// The memberships of a room held by a list of users.
    MEMBERSHIPS_IN = "SELECT room_id, user_id, role, joined_at, seq FROM memberships \
                      WHERE room_id = ?1 AND user_id IN rarray(?2)";
    /// Inserts or replaces a membership.
    PUT_MEMBERSHIP = "INSERT INTO memberships (room_id, user_id, role, joined_at, seq) \
                      VALUES (?1, ?2, ?3, ?4, ?5) \
                      ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role, \
                      joined_at = excluded.joined_at, seq = excluded.seq";
    /// Deletes a membership and returns it.
    DELETE_MEMBERSHIP = "DELETE FROM memberships WHERE room_id = ?1 AND user_id = ?2 \
                         RETURNING room_id, user_id, role, joined_at, seq";

    /// One connected account.
    ACCOUNT = "SELECT user_id, provider, external_id, handle, connected_at FROM connected_accounts \
               WHERE provider = ?1 AND external_id = ?2";
    /// A user's connected accounts, oldest first (rowid breaks ties).
    ACCOUNTS_OF = "SELECT user_id, provider, external_id, handle, connected_at FROM connected_accounts \
                   WHERE user_id = ?1 ORDER BY connected_at, rowid";
    /// Inserts a connected account; the primary key makes it fail when linked already.
    INSERT_ACCOUNT = "INSERT INTO connected_accounts (user_id, provider, external_id, handle, connected_at) \
                      VALUES (?1, ?2, ?3, ?4, ?5)";
    /// Deletes a connected account and returns it.
    DELETE_ACCOUNT = "DELETE FROM connected_accounts WHERE provider = ?1 AND external_id = ?2 \
                      RETURNING user_id, provider, external_id, handle, connected_at";

    /// Feed events after a sequence number, in order.
    CHANGES_SINCE = "SELECT seq, at, change FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";
    /// The highest sequence number ever assigned.
    LAST_SEQ = "SELECT last_seq FROM meta WHERE id = 1";
    /// Assigns the next sequence number.
    NEXT_SEQ = "UPDATE meta SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq";
    /// Assigns the next ?1 sequence numbers; returns the last of them.
    NEXT_SEQS = "UPDATE meta SET last_seq = last_seq + ?1 WHERE id = 1 RETURNING last_seq";
    /// Appends a feed event.
    INSERT_CHANGE = "INSERT INTO changes (seq, at, change) VALUES (?1, ?2, ?3)";
    /// Trims the feed.
    TRIM_CHANGES = "DELETE FROM changes WHERE seq <= ?1";
}
