DROP TABLE clues;
DROP TABLE person_index;
DROP TABLE submission_outcomes;
