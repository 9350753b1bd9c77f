-- The queue's partial index carries the same predicate as on PostgreSQL (`status = 'queued'
-- AND processed_at IS NULL`, which the queue's listings name), so both backends plan those
-- listings alike. SQLite never preferred it over the primary key for one submission; on
-- PostgreSQL, stale statistics made it do so (see that backend's migration of this name).
DROP INDEX submissions_queued;
CREATE INDEX submissions_queued ON submissions (received_at)
    WHERE status = 'queued' AND processed_at IS NULL;
