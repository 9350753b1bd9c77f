-- The clue ledger (issue 18, item 2): clues come from many sources (the service's own checks,
-- department comparison, inspection, audit, assessment feedback, petitions, self-checks, reported
-- suspected-missed households), are assigned to a unit with a deadline, rectified and closed by
-- that unit, and confirmed (销号) or reopened by the level above. docs/clues.md has the rules.

-- A clue may concern a unit or an unregistered household: no household, version or village.
ALTER TABLE clues ALTER COLUMN household_code DROP NOT NULL;
ALTER TABLE clues ALTER COLUMN submission_id DROP NOT NULL;
ALTER TABLE clues ALTER COLUMN village_code DROP NOT NULL;
ALTER TABLE clues ALTER COLUMN township_code DROP NOT NULL;

-- check | compare | inspection | audit | assessment | petition | self_check | report
ALTER TABLE clues ADD COLUMN source TEXT NOT NULL DEFAULT 'check';
ALTER TABLE clues ADD COLUMN severity TEXT;
-- The unit the clue is assigned to (it rectifies and closes).
ALTER TABLE clues ADD COLUMN org_code TEXT REFERENCES org_units (code);
-- The unit that confirms the closure (销号): the unit that raised it, or the county above the
-- assigned unit for clues the service raised.
ALTER TABLE clues ADD COLUMN confirm_org TEXT REFERENCES org_units (code);
-- The materialized path of the most precise unit the clue is about (its village, else the
-- assigned unit): jurisdiction and figures are prefix ranges over it, as for org_units.
ALTER TABLE clues ADD COLUMN place_path TEXT;
ALTER TABLE clues ADD COLUMN description TEXT NOT NULL DEFAULT '';
-- JSON arrays of photo SHA-256s.
ALTER TABLE clues ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]';
-- JSON: what disagreed (a department list and its row, an audit report's item, …).
ALTER TABLE clues ADD COLUMN source_ref TEXT NOT NULL DEFAULT '{}';
ALTER TABLE clues ADD COLUMN deadline TIMESTAMP;
-- The user who entered it; NULL for the service's own.
ALTER TABLE clues ADD COLUMN raised_by TEXT;
-- Unique when present: a re-run of whatever raises clues raises nothing twice.
ALTER TABLE clues ADD COLUMN dedup_key TEXT;
ALTER TABLE clues ADD COLUMN rectification TEXT;
ALTER TABLE clues ADD COLUMN rectification_evidence TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clues ADD COLUMN confirmed_at TIMESTAMP;
ALTER TABLE clues ADD COLUMN confirmed_by TEXT;
ALTER TABLE clues ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clues ADD COLUMN reopen_reason TEXT;
-- Set once by the escalation job when an open clue passed its deadline; level 1 = shown to
-- the level above the confirming unit's reviewers too.
ALTER TABLE clues ADD COLUMN escalated_at TIMESTAMP;
ALTER TABLE clues ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;

UPDATE clues SET org_code = township_code;
UPDATE clues SET confirm_org = COALESCE(
    (SELECT t.parent_code FROM org_units t WHERE t.code = clues.township_code), township_code);
UPDATE clues SET place_path = (SELECT v.path FROM org_units v WHERE v.code = clues.village_code);
-- A clue a later approved version cleared was closed by a signed, approved verification: that
-- is 销号 already. A clue a township closed by hand awaits the county's confirmation.
UPDATE clues SET status = 'confirmed', confirmed_at = closed_at, confirmed_by = closed_by
 WHERE status = 'closed' AND closed_by_submission IS NOT NULL;
ALTER TABLE clues ALTER COLUMN org_code SET NOT NULL;
ALTER TABLE clues ALTER COLUMN confirm_org SET NOT NULL;
ALTER TABLE clues ALTER COLUMN place_path SET NOT NULL;

CREATE UNIQUE INDEX clues_dedup ON clues (dedup_key);
CREATE INDEX clues_place ON clues (place_path text_pattern_ops, status);
CREATE INDEX clues_org ON clues (org_code, status);
CREATE INDEX clues_deadline ON clues (status, deadline);
