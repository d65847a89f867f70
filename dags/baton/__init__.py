"""baton's reusable Airflow components. They travel inside the DAG folder: syncing it deploys them.

The DAG files at the top of the folder stay a few lines each; what they build comes from
baton.yml (what users edit) and the metadata baked next to it at build time (sources from the
Meltano project, lineage from the dbt manifest). Nothing here calls meltano or dbt while Airflow
parses DAGs.
"""
