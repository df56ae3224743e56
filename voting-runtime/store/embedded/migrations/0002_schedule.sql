-- The schedule the ballot box follows (see store/postgres's 0002): times in
-- microseconds since the Unix epoch, compared with the runtime process's clock (the
-- one process that writes this file) inside each cast's BEGIN IMMEDIATE
-- transaction. No schedule recorded (NULL): the box is not open.
ALTER TABLE state ADD COLUMN opens_at INTEGER;
ALTER TABLE state ADD COLUMN closes_at INTEGER;
ALTER TABLE state ADD COLUMN schedule_version INTEGER NOT NULL DEFAULT 0;
