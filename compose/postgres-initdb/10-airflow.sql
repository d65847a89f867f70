-- The metadata server holds two databases: meltano (created by POSTGRES_DB) and airflow.
CREATE DATABASE airflow;
