-- Proxy votes (procurations): grantor gave their vote to holder. A grantor gives
-- one proxy at most (the primary key); the rest of the rule (no chain, the cap
-- per holder, both on the roll) is store.CheckProxy's, applied under
-- proxies_meta's row lock, which orders every change to the proxies. No foreign
-- key: a roll replaced before the first ballot must not drop proxies silently;
-- the organiser's are checked again against the new roll.
CREATE TABLE proxies (
    grantor  text COLLATE "C" PRIMARY KEY,
    holder   text COLLATE "C" NOT NULL,
    by_voter boolean NOT NULL,
    line     integer NOT NULL DEFAULT 0
);
CREATE INDEX proxies_holder ON proxies (holder);

-- One row: the digest of the organiser's list last declared.
CREATE TABLE proxies_meta (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    digest text NOT NULL
);
INSERT INTO proxies_meta (digest) VALUES ('');

-- The lines of the organiser's list last declared that were refused, and why
-- (store.RefusedProxy): no voter id, only the line.
CREATE TABLE proxies_refused (
    line   integer PRIMARY KEY,
    reason text NOT NULL
);

-- A ballot cast by the voter's proxy holder: the participation export may say
-- so (never who, never how).
ALTER TABLE participation ADD COLUMN by_proxy boolean NOT NULL DEFAULT false;

-- Notices: a proxy given or withdrawn is told to both voters, by their own
-- channel, through the outbox like codes and letters.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('code', 'credential', 'notice'));
