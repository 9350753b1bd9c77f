DROP TABLE enrolment_codes;
DROP TABLE decision_signatures;
