DROP TABLE stats_counts;
