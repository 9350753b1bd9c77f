DROP TABLE village_stats;
