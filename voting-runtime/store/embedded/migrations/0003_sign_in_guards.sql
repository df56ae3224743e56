-- A voter's sign-in guard: wrong codes, lockouts, and when the last code was
-- accepted for delivery. It outlives pending sign-ins (sign_ins): a new sign-in
-- resets neither the count, the lockout nor the resend cooldown. Times are
-- microseconds since the Unix epoch, NULL for never. It never holds a code.
-- (sign_ins.attempts is no longer read.)
CREATE TABLE sign_in_guards (
    voter_id        TEXT NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    lockouts        INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    last_failure_at INTEGER,
    last_sent_at    INTEGER
) STRICT;
