DROP INDEX clues_unlinked_reports;
DROP TABLE compare_rules;
DROP TABLE department_records;
DROP TABLE department_imports;
ALTER TABLE households DROP COLUMN special_groups;
ALTER TABLE households DROP COLUMN enrolment;
