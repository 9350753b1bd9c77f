DROP INDEX submissions_queued;
CREATE INDEX submissions_queued ON submissions (received_at) WHERE status = 'queued';
