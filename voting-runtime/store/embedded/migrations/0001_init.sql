-- The voting-runtime's schema, SQLite flavour of store/postgres's. Identity (roll,
-- participation, sign_ins, sessions) and the ballot box (ballots) share no column.
-- ballots and participation are WITHOUT ROWID tables: no insertion-ordered rowid
-- records the order of arrival; ballots are keyed by a random id.
-- Times are INTEGER microseconds since the Unix epoch (PostgreSQL's precision).
-- TEXT compares with the BINARY collation: ORDER BY is byte order.

CREATE TABLE keys (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE roll (
    voter_id        TEXT NOT NULL PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT NOT NULL,
    weight          INTEGER NOT NULL,
    credential_hash BLOB
) STRICT;

-- One row once a roll has been imported.
CREATE TABLE roll_meta (
    id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    digest TEXT NOT NULL
) STRICT;

-- A row per voter who voted: the primary key makes a second ballot impossible.
CREATE TABLE participation (
    voter_id TEXT NOT NULL PRIMARY KEY REFERENCES roll (voter_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE ballots (
    id      BLOB NOT NULL PRIMARY KEY,
    payload BLOB NOT NULL,
    weight  INTEGER NOT NULL,
    tracker TEXT NOT NULL UNIQUE
) STRICT, WITHOUT ROWID;

CREATE TABLE sign_ins (
    voter_id     TEXT NOT NULL PRIMARY KEY,
    attempts     INTEGER NOT NULL,
    last_sent_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE sign_in_codes (
    voter_id   TEXT NOT NULL REFERENCES sign_ins (voter_id) ON DELETE CASCADE,
    n          INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (voter_id, n)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    id_hash      BLOB NOT NULL PRIMARY KEY,
    voter_id     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);

CREATE TABLE audit (
    seq       INTEGER NOT NULL PRIMARY KEY,
    kind      TEXT NOT NULL,
    data      BLOB NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;

-- Exactly one row.
CREATE TABLE state (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    opened  INTEGER NOT NULL DEFAULT 0,
    closed  INTEGER NOT NULL DEFAULT 0,
    results BLOB
) STRICT;
INSERT INTO state (id) VALUES (1);
