-- The schedule the ballot box follows, recorded here so that every runtime process
-- acts on the same one: a cast is accepted only while opens_at <= now() < closes_at
-- and the box is not closed, by this server's clock, in the cast's own statement.
-- schedule_version orders schedules (the Election's metadata.generation): an older
-- one never replaces a newer one, and none replaces the schedule of a closed box.
-- No schedule recorded (NULL): the box is not open.
ALTER TABLE state
    ADD COLUMN opens_at         timestamptz,
    ADD COLUMN closes_at        timestamptz,
    ADD COLUMN schedule_version bigint NOT NULL DEFAULT 0;
