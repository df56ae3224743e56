-- Proxy votes (procurations): grantor gave their vote to holder. A grantor gives
-- one proxy at most (the primary key); the rest of the rule (no chain, the cap
-- per holder, both on the roll) is store.CheckProxy's, in the one writer's
-- transaction. No foreign key: a roll replaced before the first ballot must not
-- drop proxies silently; the organiser's are checked again against the new roll.
CREATE TABLE proxies (
    grantor  TEXT NOT NULL PRIMARY KEY,
    holder   TEXT NOT NULL,
    by_voter INTEGER NOT NULL,
    line     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX proxies_holder ON proxies (holder);

-- One row: the digest of the organiser's list last declared.
CREATE TABLE proxies_meta (
    id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    digest TEXT NOT NULL
) STRICT;
INSERT INTO proxies_meta (id, digest) VALUES (1, '');

-- The lines of the organiser's list last declared that were refused, and why
-- (store.RefusedProxy): no voter id, only the line.
CREATE TABLE proxies_refused (
    line   INTEGER NOT NULL PRIMARY KEY,
    reason TEXT NOT NULL
) STRICT;

-- A ballot cast by the voter's proxy holder: the participation export may say
-- so (never who, never how).
ALTER TABLE participation ADD COLUMN by_proxy INTEGER NOT NULL DEFAULT 0;

-- Notices: a proxy given or withdrawn is told to both voters, by their own
-- channel, through the outbox like codes and letters. SQLite cannot change a
-- CHECK: the table is rebuilt, its ids and their sequence kept.
CREATE TABLE outbox_next (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    voter_id   TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('code', 'credential', 'notice')),
    channel    TEXT NOT NULL CHECK (channel IN ('mail', 'sms')),
    sealed     BLOB,
    not_after  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    next_at    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    state      TEXT NOT NULL DEFAULT 'queued'
               CHECK (state IN ('queued', 'sent', 'failed', 'delivered', 'bounced', 'withdrawn')),
    reason     TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_next (id, voter_id, kind, channel, sealed, not_after, created_at, next_at, attempts, state, reason, updated_at)
    SELECT id, voter_id, kind, channel, sealed, not_after, created_at, next_at, attempts, state, reason, updated_at FROM outbox;
DELETE FROM sqlite_sequence WHERE name = 'outbox_next';
INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_next', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
CREATE INDEX outbox_claim ON outbox (channel, next_at, id) WHERE state = 'queued';
CREATE INDEX outbox_expiry ON outbox (channel, not_after) WHERE state = 'queued';
CREATE INDEX outbox_voter ON outbox (voter_id, kind, id);
