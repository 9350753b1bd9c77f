DROP TABLE registry_imports;
DROP INDEX users_person;
ALTER TABLE users DROP COLUMN person_hmac;
DROP TABLE enrolment_codes;
DROP TABLE decision_signatures;
