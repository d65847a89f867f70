"""target-baton-duckdb: the kit's Singer target for DuckDB."""
