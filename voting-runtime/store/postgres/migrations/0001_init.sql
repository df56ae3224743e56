-- The voting-runtime's schema. Identity (roll, participation, sign_ins, sessions)
-- and the ballot box (ballots) share no column: a ballot has no voter id, no
-- timestamp and no serial number, and its id is random.
-- Voter ids and trackers use the "C" collation, so that ORDER BY is byte order
-- whatever the database's locale.

CREATE TABLE keys (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE roll (
    voter_id        text COLLATE "C" PRIMARY KEY,
    name            text NOT NULL,
    email           text NOT NULL,
    phone           text NOT NULL,
    weight          bigint NOT NULL,
    credential_hash bytea
);

-- One row once a roll has been imported.
CREATE TABLE roll_meta (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    digest text NOT NULL
);

-- A row per voter who voted: the primary key makes a second ballot impossible.
CREATE TABLE participation (
    voter_id text COLLATE "C" PRIMARY KEY REFERENCES roll (voter_id)
);

CREATE TABLE ballots (
    id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payload bytea NOT NULL,
    weight  bigint NOT NULL,
    tracker text COLLATE "C" NOT NULL UNIQUE
);

CREATE TABLE sign_ins (
    voter_id     text PRIMARY KEY,
    attempts     integer NOT NULL,
    last_sent_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE TABLE sign_in_codes (
    voter_id   text NOT NULL REFERENCES sign_ins (voter_id) ON DELETE CASCADE,
    n          integer NOT NULL,
    hash       bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (voter_id, n)
);

CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    voter_id     text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);

CREATE TABLE audit (
    seq       bigint PRIMARY KEY,
    kind      text NOT NULL,
    data      bytea NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL
);

-- Exactly one row.
CREATE TABLE state (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    opened  boolean NOT NULL DEFAULT false,
    closed  boolean NOT NULL DEFAULT false,
    results bytea
);
INSERT INTO state DEFAULT VALUES;
