DROP INDEX outbox_message;
DROP TABLE attention_log;
UPDATE submissions SET status = 'queued' WHERE status = 'needs_attention';
DROP TABLE submission_attention;
