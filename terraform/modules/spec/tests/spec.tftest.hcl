# The pure-data module on its own: no provider, no credentials (`make tf-check` runs it).

variables {
  name                    = "baton-test"
  region                  = "eu-central-1"
  airflow_image           = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/baton-test/airflow:abc123"
  jobs_image              = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/baton-test/jobs:abc123"
  task_log_group_arn      = "arn:aws:logs:eu-central-1:123456789012:log-group:/baton-test/task-logs"
  api_base_url            = "https://airflow.example.com/"
  dag_bucket              = "baton-test-dags"
  jobs_subnet_ids         = ["subnet-a", "subnet-b"]
  jobs_security_group_ids = ["sg-jobs"]
  airflow_secrets = {
    AIRFLOW__API_AUTH__JWT_SECRET       = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:jwt"
    AIRFLOW__CORE__FERNET_KEY           = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:fernet"
    AIRFLOW__API__SECRET_KEY            = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:api-key"
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:airflow-db"
  }
  init_secrets = {
    BATON_DB_ADMIN_USER       = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds:username::"
    BATON_DB_ADMIN_PASSWORD   = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds:password::"
    MELTANO_DATABASE_URI      = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db"
    BATON_LAKE_CATALOG_URL    = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:lake-catalog"
    BATON_LAKE_READER_URL     = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:lake-reader"
    BATON_AIRFLOW_PASSWORD    = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:admin"
    BATON_AUTOMATION_PASSWORD = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:automation"
  }
  jobs_secrets = {
    MELTANO_DATABASE_URI   = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db"
    BATON_LAKE_CATALOG_URL = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:lake-catalog"
  }
  # The default warehouse, the lake (DuckLake: catalog on RDS, data on S3).
  lake_data_path = "s3://baton-test-lake-123456789012/lake/"
  # The sources' declarations come from the fixtures in tests/sources (settings from the
  # repository's settings.env); the secrets module's ARNs by key.
  sources_dir = "tests/sources"
  secret_arns = {
    "meltano-db-url" = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db"
    "shop-db-url"    = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop-db"
    "crm-db-url"     = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:crm-db"
    "crm-api-token"  = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:crm-api"
  }
}

run "four_airflow_components_from_one_map" {
  command = plan

  assert {
    condition     = toset(keys(output.services)) == toset(["api-server", "scheduler", "dag-processor", "triggerer"])
    error_message = "the service map must hold exactly the four Airflow 3 components"
  }
  assert {
    condition     = output.services["api-server"].port == tonumber(output.settings["BATON_AIRFLOW_PORT"]) && alltrue([for k, s in output.services : s.port == null if k != "api-server"])
    error_message = "only the api-server listens"
  }
  assert {
    condition     = alltrue([for k, s in output.services : s.family == "baton-test-${k}"])
    error_message = "task definition families are <name>-<component>"
  }
}

run "secrets_are_secrets_never_environment" {
  command = plan

  variables {
    oidc               = { issuer = "https://login.example.com/realms/data", client_id = "baton", role_mapping = {} }
    api_server_secrets = { BATON_OIDC_CLIENT_SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:oidc" }
  }

  assert {
    condition = alltrue(flatten([
      for c in concat(flatten([for s in output.services : s.container_definitions]), output.jobs.container_definitions) : [
        for e in c.environment : !contains(["AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "MELTANO_DATABASE_URI", "BATON_DB_ADMIN_PASSWORD", "BATON_LAKE_CATALOG_URL", "BATON_LAKE_READER_URL", "BATON_AIRFLOW_PASSWORD", "BATON_AUTOMATION_PASSWORD", "BATON_OIDC_CLIENT_SECRET"], e.name) && !startswith(e.value, "arn:aws:secretsmanager:")
      ]
    ]))
    error_message = "a secret leaked into a container's environment"
  }
  assert {
    condition     = alltrue([for k in ["scheduler", "dag-processor", "triggerer"] : toset([for s in output.services[k].container_definitions[0].secrets : s.name]) == toset(keys(var.airflow_secrets))])
    error_message = "every Airflow container gets the JWT secret, Fernet key and database URL as secrets, and only the api-server the sign-in secrets"
  }
  assert {
    condition     = toset([for s in output.services["api-server"].container_definitions[1].secrets : s.name]) == toset(concat(keys(var.airflow_secrets), ["BATON_OIDC_CLIENT_SECRET"]))
    error_message = "the api-server gets the OIDC client secret besides the Airflow secrets, and no account's password"
  }
  assert {
    condition     = alltrue([for e in output.jobs.container_definitions[0].environment : !contains(keys(output.jobs_secrets), e.name)])
    error_message = "a jobs secret leaked into the jobs container's environment"
  }
  assert {
    condition     = toset([for s in output.services["api-server"].container_definitions[0].secrets : s.name]) == toset(concat(keys(var.airflow_secrets), ["BATON_DB_ADMIN_USER", "BATON_DB_ADMIN_PASSWORD", "MELTANO_DATABASE_URI", "BATON_LAKE_CATALOG_URL", "BATON_LAKE_READER_URL", "BATON_AIRFLOW_PASSWORD", "BATON_AUTOMATION_PASSWORD"]))
    error_message = "the init container needs the master user to create the databases, their URLs and the accounts' passwords (first admin, service account)"
  }
  assert {
    condition     = { for e in output.services["api-server"].container_definitions[0].environment : e.name => e.value if contains(["BATON_AIRFLOW_USER", "BATON_AUTOMATION_USER"], e.name) } == { BATON_AIRFLOW_USER = "admin", BATON_AUTOMATION_USER = "baton-automation" }
    error_message = "the init container creates the first admin and the service account of automation (settings.env names both)"
  }
}

run "api_server_waits_for_its_init_container_and_others_for_the_schema" {
  command = plan

  assert {
    condition     = [for c in output.services["api-server"].container_definitions : c.name] == ["init", "airflow"]
    error_message = "the api-server task runs init first"
  }
  assert {
    condition     = jsonencode(output.services["api-server"].container_definitions[1].dependsOn) == jsonencode([{ condition = "SUCCESS", containerName = "init" }])
    error_message = "the api-server starts only after init succeeded"
  }
  assert {
    condition     = !output.services["api-server"].container_definitions[0].essential
    error_message = "init exits when done: it cannot be essential"
  }
  assert {
    condition     = alltrue([for k in ["scheduler", "dag-processor", "triggerer"] : startswith(output.services[k].container_definitions[0].command[0], "airflow db check-migrations")])
    error_message = "scheduler, dag-processor and triggerer wait for the migrated schema"
  }
}

run "airflow_3_settings" {
  command = plan

  assert {
    condition     = output.airflow_environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:${output.settings["BATON_AIRFLOW_PORT"]}/execution/"
    error_message = "tasks must reach the api-server's execution API through the Service Connect alias"
  }
  assert {
    condition     = jsondecode(output.airflow_environment["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])[0].classpath == "airflow.providers.amazon.aws.bundles.s3.S3DagBundle"
    error_message = "DAGs come from the S3 bundle"
  }
  assert {
    condition     = jsondecode(output.airflow_environment["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])[0].kwargs.bucket_name == "baton-test-dags"
    error_message = "the S3 bundle reads the DAG bucket"
  }
  assert {
    condition     = output.airflow_environment["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "cloudwatch://arn:aws:logs:eu-central-1:123456789012:log-group:/baton-test/task-logs"
    error_message = "task logs go to CloudWatch"
  }
}

run "runner_settings" {
  command = plan

  assert {
    condition = output.runner_environment == {
      BATON_RUNNER                = "ecs"
      BATON_ECS_CLUSTER           = "baton-test"
      BATON_ECS_TASK_DEFINITION   = "baton-test-jobs"
      BATON_ECS_CONTAINER         = "jobs"
      BATON_ECS_SUBNETS           = "subnet-a,subnet-b"
      BATON_ECS_SECURITY_GROUPS   = "sg-jobs"
      BATON_ECS_LOG_GROUP         = "/baton-test/jobs"
      BATON_ECS_LOG_STREAM_PREFIX = "jobs"
      BATON_ECS_CAPACITY_PROVIDER = "FARGATE_SPOT"
      BATON_ECS_DEFERRABLE        = "true"
      AWS_REGION                  = "eu-central-1"
      AWS_DEFAULT_REGION          = "eu-central-1"
    }
    error_message = "the ecs runner's settings changed"
  }
  assert {
    condition     = output.jobs.container_definitions[0].logConfiguration.options["awslogs-stream-prefix"] == output.runner_environment["BATON_ECS_LOG_STREAM_PREFIX"]
    error_message = "the runner reads job logs from the stream prefix the task definition writes"
  }
  assert {
    condition     = output.jobs.container_definitions[0].name == output.runner_environment["BATON_ECS_CONTAINER"]
    error_message = "the runner overrides the command of the jobs container by name"
  }
}

run "names_derive_from_one_prefix" {
  command = plan

  assert {
    condition = output.names == {
      cluster           = "baton-test"
      jobs_family       = "baton-test-jobs"
      airflow_log_group = "/baton-test/airflow"
      jobs_log_group    = "/baton-test/jobs"
      task_log_group    = "/baton-test/task-logs"
    }
    error_message = "the shared names changed"
  }
  assert {
    condition     = output.services["scheduler"].container_definitions[0].logConfiguration.options["awslogs-group"] == "/baton-test/airflow"
    error_message = "Airflow containers log to the airflow log group"
  }
}

run "one_init_command_for_compose_and_ecs" {
  command = plan

  assert {
    condition     = output.services["api-server"].container_definitions[0].command == ["baton-airflow-init"]
    error_message = "the init container runs the Airflow image's baton-airflow-init, as compose's airflow-init does"
  }
  assert {
    condition     = !can(output.services["api-server"].container_definitions[0].entryPoint)
    error_message = "the init container keeps the image's entrypoint"
  }
  assert {
    condition     = one([for e in output.services["api-server"].container_definitions[0].environment : e.value if e.name == "BATON_INIT_DATABASES"]) == "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN,MELTANO_DATABASE_URI,BATON_LAKE_CATALOG_URL"
    error_message = "on RDS the init command creates the airflow, meltano and lake roles and databases"
  }
  assert {
    condition     = one([for e in output.services["api-server"].container_definitions[0].environment : e.value if e.name == "BATON_INIT_READERS"]) == "BATON_LAKE_READER_URL"
    error_message = "the init command creates the lake's read-only role"
  }
  assert {
    condition     = output.airflow_environment["BATON_WAREHOUSE_POOL"] == output.settings["BATON_WAREHOUSE_POOL"] && output.airflow_environment["BATON_AIRFLOW_USER"] == output.settings["BATON_AIRFLOW_USER"]
    error_message = "the pool name and the UI user come from settings.env"
  }
}

run "settings_come_from_the_settings_file" {
  command = plan

  variables {
    settings_file = "tests/settings.env"
  }

  assert {
    condition     = output.settings == { BATON_AIRFLOW_PORT = "9090", BATON_AIRFLOW_USER = "operator", BATON_WAREHOUSE_POOL = "duckdb_writers", BATON_JOB_DATA_DIR = "/mnt/baton", BATON_AUTOMATION_USER = "robot" }
    error_message = "settings.env is read as KEY=VALUE lines, comments skipped"
  }
  assert {
    condition     = output.api_port == 9090 && output.services["api-server"].port == 9090 && output.services["api-server"].container_definitions[1].portMappings[0].containerPort == 9090
    error_message = "the api-server's port is BATON_AIRFLOW_PORT"
  }
  assert {
    condition     = output.execution_api_url == "http://api-server:9090/execution/" && strcontains(output.services["api-server"].container_definitions[1].command[0], "--port 9090")
    error_message = "the execution API and the api-server's command follow BATON_AIRFLOW_PORT"
  }
  assert {
    condition     = output.airflow_environment["BATON_WAREHOUSE_POOL"] == "duckdb_writers" && output.airflow_environment["BATON_AIRFLOW_USER"] == "operator"
    error_message = "the Airflow containers get the pool and the UI user from the settings file"
  }
  assert {
    condition     = contains(output.services["api-server"].container_definitions[0].environment, { name = "BATON_AUTOMATION_USER", value = "robot" })
    error_message = "the init container creates the service account the settings file names"
  }
  assert {
    condition     = [for m in output.jobs.container_definitions[0].mountPoints : m.containerPath] == ["/mnt/baton/crm-exports", "/mnt/baton/marketing"]
    error_message = "the jobs' folders live under BATON_JOB_DATA_DIR"
  }
}

run "the_repository_settings_and_sources_parse" {
  command = plan

  variables {
    sources_dir = null # meltano/sources of the repository
    secret_arns = {}
  }

  # Whatever sources the repository holds: each declared secret is a jobs secret, each folder a
  # read-only mount; the warehouse is the lake, so nothing is writable.
  assert {
    condition     = alltrue([for k in ["BATON_AIRFLOW_PORT", "BATON_AIRFLOW_USER", "BATON_WAREHOUSE_POOL", "BATON_JOB_DATA_DIR"] : contains(keys(output.settings), k)])
    error_message = "settings.env holds the constants Terraform reads"
  }
  assert {
    condition     = [for name, v in output.jobs_volumes : name if !v.read_only] == [] && alltrue([for name, v in output.jobs_volumes : v.container_path == "${output.settings["BATON_JOB_DATA_DIR"]}/${name}"])
    error_message = "in lake mode no volume is writable; every folder lives under BATON_JOB_DATA_DIR"
  }
  assert {
    condition     = alltrue([for env, s in output.source_secrets : can(regex("^[a-z0-9-]+$", s.key)) && length(s.sources) > 0])
    error_message = "every declared secret maps to a secret name"
  }

  expect_failures = [output.jobs] # no ARNs given: the precondition names the missing secrets
}

run "secrets_derive_from_the_source_declarations" {
  command = plan

  assert {
    condition = jsonencode(output.source_secrets) == jsonencode({
      BATON_SHOP_DB_URL   = { key = "shop-db-url", sources = ["partners", "shop"], description = "BATON_SHOP_DB_URL of the source(s) partners, shop (meltano/sources): set it with aws secretsmanager put-secret-value" }
      BATON_CRM_DB_URL    = { key = "crm-db-url", sources = ["crm"], description = "BATON_CRM_DB_URL of the source(s) crm (meltano/sources): set it with aws secretsmanager put-secret-value" }
      BATON_CRM_API_TOKEN = { key = "crm-api-token", sources = ["crm"], description = "BATON_CRM_API_TOKEN of the source(s) crm (meltano/sources): set it with aws secretsmanager put-secret-value" }
    })
    error_message = "one secret per declared variable, named after it, shared by the sources that declare it"
  }
  assert {
    condition = { for s in output.jobs.container_definitions[0].secrets : s.name => s.valueFrom } == {
      MELTANO_DATABASE_URI   = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db"
      BATON_LAKE_CATALOG_URL = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:lake-catalog"
      BATON_SHOP_DB_URL      = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop-db"
      BATON_CRM_DB_URL       = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:crm-db"
      BATON_CRM_API_TOKEN    = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:crm-api"
    }
    error_message = "the jobs container gets Meltano's database URL, the lake's catalog URL and every declared secret, as secrets"
  }
  assert {
    condition     = output.jobs_secrets == { for s in output.jobs.container_definitions[0].secrets : s.name => s.valueFrom }
    error_message = "the jobs_secrets output (the execution role's secrets) is what the container gets"
  }
}

run "folders_derive_from_the_source_declarations" {
  command = plan

  assert {
    condition = output.jobs_volumes == {
      marketing     = { path = "/marketing", container_path = "/data/marketing", read_only = true }
      "crm-exports" = { path = "/crm-exports", container_path = "/data/crm-exports", read_only = true }
    }
    error_message = "one read-only access point per declared folder (shared folders once), none for the lake"
  }
  assert {
    condition     = [for m in output.jobs.container_definitions[0].mountPoints : [m.sourceVolume, m.containerPath, m.readOnly]] == [["crm-exports", "/data/crm-exports", true], ["marketing", "/data/marketing", true]]
    error_message = "jobs read the sources' folders"
  }
  assert {
    condition = { for e in output.jobs.container_definitions[0].environment : e.name => e.value if startswith(e.name, "BATON_") } == {
      BATON_JOB_DATA_DIR    = "/data"
      BATON_WAREHOUSE       = "lake"
      BATON_LAKE_DATA_PATH  = "s3://baton-test-lake-123456789012/lake/"
      BATON_LAKE_S3_REGION  = "eu-central-1"
      BATON_MARKETING_DIR   = "/data/marketing"
      BATON_CRM_EXPORTS_DIR = "/data/crm-exports"
    }
    error_message = "each folder variable points at its mount; the lake's settings are plain, its catalog URL a secret"
  }
  assert {
    condition     = output.airflow_environment["BATON_WAREHOUSE"] == "lake"
    error_message = "the Airflow containers know the warehouse is the lake (no single-writer pool)"
  }
}

run "files_warehouse_is_the_one_writable_volume" {
  command = plan

  variables {
    warehouse      = "files"
    lake_data_path = ""
    jobs_secrets   = { MELTANO_DATABASE_URI = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db" }
  }

  assert {
    condition     = output.jobs_volumes["warehouse"] == { path = "/warehouse", container_path = "/data/warehouse", read_only = false } && length(output.jobs_volumes) == 3
    error_message = "files mode: one writable access point for the warehouse beside the sources' folders"
  }
  assert {
    condition     = [for m in output.jobs.container_definitions[0].mountPoints : [m.sourceVolume, m.readOnly]] == [["warehouse", false], ["crm-exports", true], ["marketing", true]]
    error_message = "files mode: jobs write the warehouse and read the sources' folders"
  }
  assert {
    condition = { for e in output.jobs.container_definitions[0].environment : e.name => e.value if startswith(e.name, "BATON_WAREHOUSE") || startswith(e.name, "BATON_LAKE") } == {
      BATON_WAREHOUSE     = "files"
      BATON_WAREHOUSE_DIR = "/data/warehouse"
    }
    error_message = "files mode: the warehouse folder, no lake settings"
  }
  assert {
    condition     = one([for e in output.services["api-server"].container_definitions[0].environment : e.value if e.name == "BATON_INIT_DATABASES"]) == "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN,MELTANO_DATABASE_URI" && one([for e in output.services["api-server"].container_definitions[0].environment : e.value if e.name == "BATON_INIT_READERS"]) == ""
    error_message = "files mode: no lake database, no read-only role"
  }
}

run "no_file_sources_no_volumes" {
  command = plan

  variables {
    sources_dir = "tests/sources-no-files"
  }

  assert {
    condition     = output.jobs_volumes == {} && output.jobs.container_definitions[0].mountPoints == []
    error_message = "a lake deployment whose sources read no folders has no volume (so the deployment creates no EFS)"
  }
}

run "lake_without_its_data_path_or_catalog_fails" {
  command = plan

  variables {
    lake_data_path = "baton-test-lake/lake"
  }

  expect_failures = [output.jobs]
}

run "fab_sign_in_without_oidc" {
  command = plan

  assert {
    condition     = output.airflow_environment["AIRFLOW__CORE__AUTH_MANAGER"] == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    error_message = "every Airflow component runs the FAB auth manager"
  }
  assert {
    condition     = length([for k in keys(output.airflow_environment) : k if startswith(k, "BATON_OIDC_") || strcontains(k, "SIMPLE_AUTH_MANAGER")]) == 0
    error_message = "no OIDC settings without an issuer, and nothing of the simple auth manager"
  }
}

run "oidc_settings" {
  command = plan

  variables {
    oidc = {
      issuer       = "https://login.example.com/realms/data"
      client_id    = "baton"
      role_mapping = { "data-engineers" = "Op", analysts = "Viewer" }
    }
  }

  assert {
    condition     = output.airflow_environment["BATON_OIDC_ISSUER"] == "https://login.example.com/realms/data" && output.airflow_environment["BATON_OIDC_CLIENT_ID"] == "baton"
    error_message = "the issuer and client id are plain settings of the Airflow containers"
  }
  assert {
    condition     = jsondecode(output.airflow_environment["BATON_OIDC_ROLES"]) == { "data-engineers" = "Op", analysts = "Viewer" }
    error_message = "the group -> role mapping reaches the containers as JSON"
  }
  assert {
    condition     = length([for k in ["BATON_OIDC_DEFAULT_ROLE", "BATON_OIDC_GROUPS_CLAIM", "BATON_OIDC_SCOPES"] : k if contains(keys(output.airflow_environment), k)]) == 0
    error_message = "the optional OIDC settings are left to the image's defaults unless given"
  }
}

run "oidc_optional_settings" {
  command = plan

  variables {
    oidc = {
      issuer       = "https://login.example.com/realms/data"
      client_id    = "baton"
      role_mapping = { analysts = "Viewer" }
      default_role = "Viewer"
      groups_claim = "roles"
      scopes       = "openid email profile groups"
    }
  }

  assert {
    condition     = [for k in ["BATON_OIDC_DEFAULT_ROLE", "BATON_OIDC_GROUPS_CLAIM", "BATON_OIDC_SCOPES"] : output.airflow_environment[k]] == ["Viewer", "roles", "openid email profile groups"]
    error_message = "default_role, groups_claim and scopes reach the Airflow containers"
  }
}

run "oidc_rejects_an_unknown_role" {
  command = plan

  variables {
    oidc = { issuer = "https://login.example.com", client_id = "baton", role_mapping = { analysts = "Reader" } }
  }

  expect_failures = [var.oidc]
}

run "the_job_task_size_is_the_jobs_memory_limit" {
  command = plan

  variables {
    jobs = { cpu = 2048, memory = 6144 }
  }

  assert {
    condition     = output.jobs.cpu == 2048 && output.jobs.memory == 6144 && output.jobs.container_definitions[0].memory == 6144 && output.jobs.container_definitions[0].cpu == 2048
    error_message = "the task's size and the container's hard limit follow jobs.cpu and jobs.memory"
  }
}

run "defaults_one_vcpu_and_2_gib" {
  command = plan

  assert {
    condition     = output.jobs.cpu == 1024 && output.jobs.memory == 2048
    error_message = "a job task is 1 vCPU and 2048 MiB by default"
  }
}

run "rejects_a_size_fargate_does_not_offer" {
  command = plan

  variables {
    jobs = { cpu = 1024, memory = 16384 }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_capacity_provider_other_than_fargate" {
  command = plan

  variables {
    jobs = { capacity_provider = "EC2" }
  }

  expect_failures = [var.jobs]
}

run "a_secret_without_its_arn_fails" {
  command = plan

  variables {
    secret_arns = { "shop-db-url" = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop-db" }
  }

  expect_failures = [output.jobs]
}

run "one_folder_variable_with_two_folders_fails" {
  command = plan

  variables {
    sources_dir = "tests/sources-clash"
  }

  expect_failures = [output.jobs]
}

run "a_folder_named_like_the_warehouse_fails" {
  command = plan

  variables {
    sources_dir = "tests/sources-warehouse"
  }

  expect_failures = [output.jobs]
}

run "overrides_and_validation" {
  command = plan

  variables {
    services = { scheduler = { memory = 4096, desired_count = 2 } }
    jobs     = { capacity_provider = "FARGATE" }
  }

  assert {
    condition     = output.services["scheduler"].memory == 4096 && output.services["scheduler"].desired_count == 2 && output.services["scheduler"].cpu == 1024
    error_message = "a service override changes only what it names"
  }
  assert {
    condition     = output.runner_environment["BATON_ECS_CAPACITY_PROVIDER"] == "FARGATE"
    error_message = "the capacity provider setting reaches the runner"
  }
  assert {
    condition     = output.jobs.cpu == 1024 && output.jobs.memory == 2048
    error_message = "a jobs object that sets only capacity_provider keeps the default size"
  }
}

run "rejects_an_unknown_component" {
  command = plan

  variables {
    services = { worker = { cpu = 256 } }
  }

  expect_failures = [var.services]
}
