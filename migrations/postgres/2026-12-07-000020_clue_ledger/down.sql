-- Back to clues raised by the checks only: the others have nowhere to live in the old shape.
DROP INDEX clues_deadline;
DROP INDEX clues_org;
DROP INDEX clues_place;
DROP INDEX clues_dedup;
DELETE FROM clues WHERE household_code IS NULL OR submission_id IS NULL OR village_code IS NULL
    OR township_code IS NULL;
UPDATE clues SET status = 'closed' WHERE status = 'confirmed';
ALTER TABLE clues ALTER COLUMN household_code SET NOT NULL;
ALTER TABLE clues ALTER COLUMN submission_id SET NOT NULL;
ALTER TABLE clues ALTER COLUMN village_code SET NOT NULL;
ALTER TABLE clues ALTER COLUMN township_code SET NOT NULL;
ALTER TABLE clues DROP COLUMN source, DROP COLUMN severity, DROP COLUMN org_code,
    DROP COLUMN confirm_org, DROP COLUMN place_path, DROP COLUMN description,
    DROP COLUMN evidence, DROP COLUMN source_ref, DROP COLUMN deadline, DROP COLUMN raised_by,
    DROP COLUMN dedup_key, DROP COLUMN rectification, DROP COLUMN rectification_evidence,
    DROP COLUMN confirmed_at, DROP COLUMN confirmed_by, DROP COLUMN reopen_count,
    DROP COLUMN reopen_reason, DROP COLUMN escalated_at, DROP COLUMN escalation_level;
