DROP TABLE bulletins;
DROP FUNCTION bulletins_immutable();
