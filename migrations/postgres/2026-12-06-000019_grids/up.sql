-- Grids and 包干到人 (issue 17): each household of the registry has at most one responsible
-- surveyor (网格员), a surveyor whose org unit contains the household's village. A household
-- without a row has none yet. Set by `fieldsurvey grid import` (one ledger entry per file) or
-- by a reviewer of the household's township or above (one ledger entry per assignment, the
-- reviewer as actor); `assigned_by` names who set the current row, for the console.
CREATE TABLE household_assignments (
    household_code TEXT PRIMARY KEY REFERENCES households (household_code),
    surveyor_id TEXT NOT NULL REFERENCES users (id),
    assigned_at TIMESTAMP NOT NULL,
    assigned_by TEXT NOT NULL
);
-- A surveyor's own list (the field app's), by index whatever the registry's size.
CREATE INDEX household_assignments_surveyor ON household_assignments (surveyor_id, household_code);
