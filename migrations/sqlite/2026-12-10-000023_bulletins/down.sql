DROP TABLE bulletins;
