-- kinfolk PostgreSQL schema, version 1.
--
-- Ids are UUIDs (the 16 bytes of a UUID v7; uuid order is byte order).
-- Timestamps are RFC 3339 text with exactly nine fractional digits (text
-- order is time order, nanoseconds kept; timestamptz keeps only micros).
-- Every text column that is compared or ordered on uses COLLATE "C", so
-- order is byte order, as in the other stores, whatever the database locale.

-- Users: the id as key, the whole record as serde JSON (decoded and
-- re-validated by core types on every read). Counters live in the record.
CREATE TABLE users (
    id     uuid NOT NULL PRIMARY KEY,
    record text NOT NULL
);

-- Username claims, unique on the case-folded name (the primary key is the
-- claim: two transactions can never both insert the same folded name).
CREATE TABLE username_claims (
    folded     text COLLATE "C" NOT NULL PRIMARY KEY CHECK (folded <> ''),
    user_id    uuid NOT NULL,
    username   text NOT NULL CHECK (username <> ''),
    held_until text COLLATE "C"
);
CREATE INDEX username_claims_by_user ON username_claims (user_id);

-- Directed edges: kind 1 follow, 2 request, 3 block, 4 mute (EdgeKind::code),
-- unique on (kind, from, to). The (kind, end, seq) indexes serve newest-first
-- keyset pages and hold the other end, so edge_keys is an index-only scan.
CREATE TABLE edges (
    kind    smallint NOT NULL CHECK (kind BETWEEN 1 AND 4),
    from_id uuid NOT NULL,
    to_id   uuid NOT NULL,
    seq     bigint NOT NULL CHECK (seq >= 0),
    since   text COLLATE "C" NOT NULL,
    until   text COLLATE "C",
    PRIMARY KEY (kind, from_id, to_id)
);
CREATE INDEX edges_from_seq ON edges (kind, from_id, seq) INCLUDE (to_id);
CREATE INDEX edges_to_seq ON edges (kind, to_id, seq) INCLUDE (from_id);

-- Rooms: the id as key, the record as serde JSON.
CREATE TABLE rooms (
    id     uuid NOT NULL PRIMARY KEY,
    record text NOT NULL
);

-- Memberships; the foreign keys are checked per statement (the service
-- deletes memberships before their room or user).
CREATE TABLE memberships (
    room_id   uuid NOT NULL REFERENCES rooms (id),
    user_id   uuid NOT NULL REFERENCES users (id),
    role      text NOT NULL CHECK (role IN ('member', 'moderator', 'admin', 'owner')),
    joined_at text COLLATE "C" NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id, seq);
CREATE INDEX memberships_by_room ON memberships (room_id, seq);

-- Connected accounts, unique on (provider, external_id) compared byte for byte.
CREATE TABLE connected_accounts (
    provider     text COLLATE "C" NOT NULL,
    external_id  text COLLATE "C" NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id),
    handle       text NOT NULL,
    connected_at text COLLATE "C" NOT NULL,
    PRIMARY KEY (provider, external_id)
);
CREATE INDEX connected_accounts_by_user ON connected_accounts (user_id, connected_at);

-- The change feed, keyed by its sequence number; the event as serde JSON.
-- How numbers are taken depends on the feed order the database was created
-- with (feed_meta.feed_order, docs/adr/0009-postgres-store.md):
-- 'commit': from feed_seq, under a transaction-level advisory lock held until
--   commit, so commit order is sequence order;
-- 'xid': (xid8 of the writing transaction) << 16 | n, the n-th event of that
--   transaction; readers stop below the oldest transaction still in flight.
CREATE TABLE changes (
    seq    bigint NOT NULL PRIMARY KEY CHECK (seq >= 0),
    at     text COLLATE "C" NOT NULL,
    change text NOT NULL
);
CREATE SEQUENCE feed_seq AS bigint MINVALUE 1 NO CYCLE;

-- One row: the feed order, and the highest sequence number trimmed away (so
-- last_seq never goes back when the feed is trimmed past its newest event).
CREATE TABLE feed_meta (
    id         integer PRIMARY KEY CHECK (id = 1),
    feed_order text NOT NULL CHECK (feed_order IN ('commit', 'xid')),
    trimmed    bigint NOT NULL CHECK (trimmed >= 0)
);
INSERT INTO feed_meta (id, feed_order, trimmed) VALUES (1, 'commit', 0);
