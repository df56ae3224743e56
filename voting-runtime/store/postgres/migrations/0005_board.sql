-- The verifiable mode (Belenios): the voter's public credential, the public board
-- and the counted ballot of each voter. Unlike the ballots table, the board is
-- public and in arrival order by design: the encryption protects secrecy there.
--
-- roll.public_credential: g^s in decimal, public (it is on the board); NULL in the
-- plain mode. Two voters never share one.
ALTER TABLE roll ADD COLUMN public_credential text COLLATE "C";
CREATE UNIQUE INDEX roll_public_credential ON roll (public_credential);

-- board_head holds the board's last seq, one row once the board is set up. Every
-- append (a cast, a close record) takes the next seq by updating it, and holds its
-- row lock until commit: records commit in seq order, so a reader never sees seq
-- n+1 without n, and a reader who streamed the board up to n never finds a record
-- below n later.
CREATE TABLE board_head (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL
);

-- The board: the setup record is seq 1. tracker is a ballot's, unique: the same
-- ballot is never on the board twice. close_key is the AppendBoard key, on the
-- first record of its batch. Records are never changed or deleted.
CREATE TABLE board (
    seq       bigint PRIMARY KEY,
    kind      text NOT NULL CHECK (kind IN ('setup', 'ballot', 'end-ballots', 'encrypted-tally',
                                            'partial-decryption', 'result')),
    owner     integer NOT NULL DEFAULT 0,
    body      bytea NOT NULL,
    tracker   text COLLATE "C" UNIQUE,
    close_key text COLLATE "C" UNIQUE,
    CHECK ((seq = 1) = (kind = 'setup')),
    CHECK ((kind = 'ballot') = (tracker IS NOT NULL))
);

-- Each voter's counted ballot: the last one the voter cast (the highest seq). A
-- cast replaces the row in its own statement; participation is marked beside it.
CREATE TABLE counted_ballots (
    voter_id   text COLLATE "C" PRIMARY KEY REFERENCES roll (voter_id),
    seq        bigint NOT NULL UNIQUE REFERENCES board (seq),
    credential text NOT NULL,
    weight     bigint NOT NULL
);
