-- The outbox: every code and credential letter, before it is sent. sealed is the
-- message encrypted by the runtime (the store never sees it in clear), set to NULL
-- once the message is sent, failed or withdrawn (the file is opened with
-- secure_delete, so the erased bytes are overwritten, not left in a free block).
-- A claimed message stays queued with next_at at the end of its lease: if its
-- worker dies, it is due again then. attempts counts the claims, and guards Finish
-- against a worker whose lease ran out. Times are microseconds since the Unix epoch.
CREATE TABLE outbox (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    voter_id   TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('code', 'credential')),
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
-- Claim: the due queued messages of a channel, oldest first; and those past
-- their not_after, which Claim fails (without it, each Claim would read every
-- due message to find them).
CREATE INDEX outbox_claim ON outbox (channel, next_at, id) WHERE state = 'queued';
CREATE INDEX outbox_expiry ON outbox (channel, not_after) WHERE state = 'queued';
-- Deliveries and Withdraw: a voter's messages.
CREATE INDEX outbox_voter ON outbox (voter_id, kind, id);
