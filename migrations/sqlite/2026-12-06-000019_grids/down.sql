DROP TABLE household_assignments;
