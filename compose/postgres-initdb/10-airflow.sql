-- The metadata server holds three databases: meltano (created by POSTGRES_DB), airflow, and lake (the
-- DuckLake catalog when BATON_WAREHOUSE=lake; created at first use on a server initialised before it).
CREATE DATABASE airflow;
CREATE DATABASE lake;
