-- The outbox: every code and credential letter, before it is sent. sealed is the
-- message encrypted by the runtime (the store never sees it in clear), set to NULL
-- once the message is sent, failed or withdrawn. A claimed message stays queued
-- with next_at at the end of its lease: if its worker dies, it is due again then.
-- attempts counts the claims, and guards Finish against a worker whose lease ran
-- out. No foreign key to roll: a replaced roll's messages stay, withdrawn, as
-- history.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    voter_id   text COLLATE "C" NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('code', 'credential')),
    channel    text NOT NULL CHECK (channel IN ('mail', 'sms')),
    sealed     bytea,
    not_after  timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_at    timestamptz NOT NULL DEFAULT now(),
    attempts   integer NOT NULL DEFAULT 0,
    state      text NOT NULL DEFAULT 'queued'
               CHECK (state IN ('queued', 'sent', 'failed', 'delivered', 'bounced', 'withdrawn')),
    reason     text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Claim: the due queued messages of a channel, oldest first; and those past
-- their not_after, which Claim fails (without it, each Claim would read every
-- due message to find them).
CREATE INDEX outbox_claim ON outbox (channel, next_at, id) WHERE state = 'queued';
CREATE INDEX outbox_expiry ON outbox (channel, not_after) WHERE state = 'queued';
-- Deliveries and Withdraw: a voter's messages.
CREATE INDEX outbox_voter ON outbox (voter_id, kind, id);
