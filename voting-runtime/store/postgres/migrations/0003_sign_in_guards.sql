-- A voter's sign-in guard: wrong codes, lockouts, and when the last code was
-- accepted for delivery. It outlives pending sign-ins (sign_ins): a new sign-in
-- resets neither the count, the lockout nor the resend cooldown. AttemptSignIn
-- locks the row (SELECT ... FOR UPDATE) while it checks a code and counts it.
-- It never holds a code. (sign_ins.attempts is no longer read.)
CREATE TABLE sign_in_guards (
    voter_id        text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    lockouts        integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_failure_at timestamptz,
    last_sent_at    timestamptz
);
