DROP TABLE training_jobs;
DROP TABLE active_model;
DROP TABLE models;
