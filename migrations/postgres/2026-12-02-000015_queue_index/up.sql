-- The queue's partial index no longer answers statements that name one submission.
--
-- A sign-off moves its submission out of `queued` with `WHERE id = $1 AND status = 'queued'`.
-- That clause implies the old index's predicate (`status = 'queued'`), and the planner sizes
-- the index from its statistics, which were taken when the queue was, as usual, empty: it
-- believed the index empty and chose it over the primary key. With a backlog every sign-off
-- then read every queued entry to find its own (25 ms and 15,650 buffers at 18,000 queued,
-- against a fraction of a millisecond), so the workers slowed as the queue grew and the queue
-- grew faster: a backlog fed itself. The new predicate also names `processed_at IS NULL`, which
-- no single-submission statement mentions, so only the queue's own listings can use it; the
-- check makes that predicate exactly the old one (a queued submission is never processed).
ALTER TABLE submissions ADD CONSTRAINT submissions_queued_unprocessed
    CHECK (status <> 'queued' OR processed_at IS NULL) NOT VALID;
ALTER TABLE submissions VALIDATE CONSTRAINT submissions_queued_unprocessed;
DROP INDEX submissions_queued;
CREATE INDEX submissions_queued ON submissions (received_at)
    WHERE status = 'queued' AND processed_at IS NULL;
