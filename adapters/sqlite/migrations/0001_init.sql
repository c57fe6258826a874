-- kinfolk SQLite schema, version 1.
--
-- Every store operation is an index lookup or a range scan on one of the keys
-- below (tests/query_plans.rs checks this with EXPLAIN QUERY PLAN).
-- Ids are the 16 big-endian bytes of a UUID v7. Timestamps are RFC 3339 text
-- with exactly nine fractional digits, so text order is time order.

-- Users: the id as key, the whole record as serde JSON (see src/schema.rs for why).
-- Counters live in the record; core rewrites it in the transaction that changes an edge.
CREATE TABLE users (
    id     BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    record TEXT NOT NULL
) STRICT;

-- Username claims, unique on the case-folded name (the primary key).
CREATE TABLE username_claims (
    folded     TEXT NOT NULL PRIMARY KEY,
    user_id    BLOB NOT NULL CHECK (length(user_id) = 16),
    username   TEXT NOT NULL,
    held_until TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX username_claims_by_user ON username_claims (user_id);

-- Directed edges: kind 1 follow, 2 request, 3 block, 4 mute (EdgeKind::code).
-- The two (kind, end, seq) indexes serve newest-first keyset pages.
CREATE TABLE edges (
    kind    INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 4),
    from_id BLOB NOT NULL CHECK (length(from_id) = 16),
    to_id   BLOB NOT NULL CHECK (length(to_id) = 16),
    seq     INTEGER NOT NULL CHECK (seq >= 0),
    since   TEXT NOT NULL,
    until   TEXT,
    PRIMARY KEY (kind, from_id, to_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX edges_from_seq ON edges (kind, from_id, seq);
CREATE INDEX edges_to_seq ON edges (kind, to_id, seq);

-- Rooms: the id as key, the record as serde JSON.
CREATE TABLE rooms (
    id     BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    record TEXT NOT NULL
) STRICT;

-- Memberships. The foreign keys are immediate: a statement that would leave a
-- membership without its room or user fails at once (the service deletes
-- memberships before their room or user), and only that job rolls back.
CREATE TABLE memberships (
    room_id   BLOB NOT NULL REFERENCES rooms (id),
    user_id   BLOB NOT NULL REFERENCES users (id),
    role      TEXT NOT NULL CHECK (role IN ('member', 'moderator', 'admin', 'owner')),
    joined_at TEXT NOT NULL,
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships (user_id, seq);
CREATE INDEX memberships_by_room ON memberships (room_id, seq);

-- Connected accounts, unique on (provider, external_id). A rowid table: the
-- rowid breaks ties between accounts linked at the same instant (oldest first).
CREATE TABLE connected_accounts (
    provider     TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id),
    handle       TEXT NOT NULL,
    connected_at TEXT NOT NULL,
    PRIMARY KEY (provider, external_id)
) STRICT;
CREATE INDEX connected_accounts_by_user ON connected_accounts (user_id, connected_at);

-- The change feed, keyed by its sequence number; the event as serde JSON.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    change TEXT NOT NULL
) STRICT;

-- One row: the highest sequence number ever assigned, so trimming the feed
-- never lets a number be reused.
CREATE TABLE meta (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0)
) STRICT;
INSERT INTO meta (id, last_seq) VALUES (1, 0);
