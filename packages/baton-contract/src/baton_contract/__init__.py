"""The contract between baton's jobs and the Airflow that conducts them.

job          exit codes, the `BATON_RESULT:` line, the loader's and extractor's report lines
naming       plugin, raw-file, DAG and asset names derived from a source or a domain
declaration  the `baton:` block of meltano/sources/<source>.meltano.yml (a pydantic model)
settings     the kit's constants in settings.env, overridden by the environment
state        the Meltano state the state command sets
waiting      retries and waits (tenacity)
"""
