-- Department data comparison and 疑似漏评 (issue 18, items 1 and 3).
--
-- The registry's enrolment status (建档立卡: 'enrolled' or 'not_enrolled'; NULL when the file
-- that imported the household did not say) and its special-group tags (a sorted,
-- comma-separated list of dibao 低保, tekun 特困, weifang 危房, dabing 大病, zhongcan 重残,
-- laoren 老人). Expand only: older code never reads them.
ALTER TABLE households ADD COLUMN enrolment TEXT;
ALTER TABLE households ADD COLUMN special_groups TEXT;

-- One row per department list imported (`fieldsurvey compare import`): the file's digest, its
-- row count and its ledger entry. A department's list is a snapshot: importing it again
-- replaces that department's rows, in one transaction.
CREATE TABLE department_imports (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    ledger_seq BIGINT NOT NULL
);
CREATE INDEX department_imports_source ON department_imports (source, imported_at);

-- The lists' rows, keyed by the keyed HMAC of the ID number (the number itself is never
-- stored); `status` is the department's statement (deceased, dropped_out, …), `since` the date
-- the list gives for it, `line` where the row stood in its file.
CREATE TABLE department_records (
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    id_hmac TEXT NOT NULL,
    since TEXT,
    import_id TEXT NOT NULL REFERENCES department_imports (id),
    line BIGINT NOT NULL,
    PRIMARY KEY (source, status, id_hmac)
);
CREATE INDEX department_records_hmac ON department_records (id_hmac);

-- The comparison rules, as data: a department's statement (source, source_status) set against
-- a survey field or registry attribute (survey_field) under a condition; a match raises a clue
-- of clue_kind and severity. `compare run` reads the active rules; an operator may add, change
-- or switch off rows. survey_field and condition are from a fixed vocabulary
-- (docs/compare.md); a row the run does not understand is reported and skipped.
CREATE TABLE compare_rules (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_status TEXT NOT NULL,
    survey_field TEXT NOT NULL,
    condition TEXT NOT NULL,
    clue_kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    description TEXT NOT NULL
);

INSERT INTO compare_rules (id, source, source_status, survey_field, condition, clue_kind, severity, description) VALUES
('education_dropout', 'education', 'dropped_out', 'members.schooling', 'eq:enrolled', 'education', 'high', '教育部门名单显示辍学，调查记为在校'),
('police_deceased_member', 'police', 'deceased', 'members', 'listed', 'deceased_member', 'high', '公安部门名单显示已死亡，调查仍列为家庭成员'),
('police_deceased_head', 'police', 'deceased', 'registry.head', 'listed', 'deceased_member', 'high', '公安部门名单显示已死亡，底图仍登记为户主'),
('police_moved_out', 'police', 'moved_out', 'members', 'listed', 'moved_member', 'medium', '公安部门名单显示户口已迁出，调查仍列为家庭成员'),
('health_uninsured', 'health', 'uninsured', 'members.medical_insurance', 'eq:true', 'medical', 'high', '卫健部门名单显示未参加基本医疗保险，调查记为已参保'),
('health_serious_illness', 'health', 'serious_illness', 'registry.special_groups', 'lacks:dabing', 'unrecorded_group', 'medium', '卫健部门名单显示患大病，底图未标记大病'),
('housing_dangerous', 'housing', 'dangerous', 'housing', 'passes', 'housing', 'high', '住建部门鉴定为危房，调查记为住房安全'),
('civil_affairs_dibao', 'civil_affairs', 'dibao', 'registry.special_groups', 'lacks:dibao', 'unrecorded_group', 'low', '民政部门名单显示享受低保，底图未标记低保'),
('civil_affairs_tekun', 'civil_affairs', 'tekun', 'registry.special_groups', 'lacks:tekun', 'unrecorded_group', 'low', '民政部门名单显示特困供养，底图未标记特困'),
('civil_affairs_dibao_not_enrolled', 'civil_affairs', 'dibao', 'registry.enrolment', 'eq:not_enrolled', 'suspected_missed', 'medium', '民政部门名单显示享受低保，底图未建档立卡（疑似漏评）'),
('disability_severe', 'disability', 'severe', 'registry.special_groups', 'lacks:zhongcan', 'unrecorded_group', 'medium', '残联名单显示重度残疾，底图未标记重残'),
('market_business', 'market', 'business', 'registry.enrolment', 'eq:enrolled', 'wrongly_enrolled', 'medium', '市场监管部门登记有经营主体，该户为建档立卡户（疑似错评）'),
('vehicles_vehicle', 'vehicles', 'vehicle', 'registry.enrolment', 'eq:enrolled', 'wrongly_enrolled', 'medium', '车管部门登记有机动车，该户为建档立卡户（疑似错评）');

-- Reported suspected-missed households (`POST /api/v1/suspected-missed`, source `report`) not
-- yet linked to a signed-off survey: each sign-off of a registered household looks here by
-- its code, and the index holds only those few clues.
CREATE INDEX clues_unlinked_reports ON clues (household_code)
    WHERE source = 'report' AND submission_id IS NULL;
