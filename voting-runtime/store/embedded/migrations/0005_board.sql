-- The verifiable mode (Belenios): the voter's public credential, the public board
-- and the counted ballot of each voter. Unlike the ballots table, the board is
-- public and in arrival order by design: the encryption protects secrecy there.
--
-- roll.public_credential: g^s in decimal, public (it is on the board); NULL in the
-- plain mode. Two voters never share one.
ALTER TABLE roll ADD COLUMN public_credential TEXT;
CREATE UNIQUE INDEX roll_public_credential ON roll (public_credential);

-- The board: seq orders the records (the one writer gives each the next rowid, so
-- seq is the commit order); the setup record is seq 1, and nothing else is
-- written before it. tracker is a ballot's, unique: the same ballot is never on
-- the board twice. close_key is the AppendBoard key, on the first record of its
-- batch. Records are never changed or deleted.
CREATE TABLE board (
    seq       INTEGER NOT NULL PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('setup', 'ballot', 'end-ballots', 'encrypted-tally',
                                            'partial-decryption', 'result')),
    owner     INTEGER NOT NULL DEFAULT 0,
    body      BLOB NOT NULL,
    tracker   TEXT UNIQUE,
    close_key TEXT UNIQUE,
    CHECK ((seq = 1) = (kind = 'setup')),
    CHECK ((kind = 'ballot') = (tracker IS NOT NULL))
) STRICT;

-- Each voter's counted ballot: the last one the voter cast (the highest seq). A
-- cast replaces the row in its own transaction; participation is marked beside it.
CREATE TABLE counted_ballots (
    voter_id   TEXT NOT NULL PRIMARY KEY REFERENCES roll (voter_id),
    seq        INTEGER NOT NULL UNIQUE REFERENCES board (seq),
    credential TEXT NOT NULL,
    weight     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
