# The pure-data module on its own: no provider, no credentials (`make tf-check` runs it).

variables {
  name                    = "baton-test"
  region                  = "eu-central-1"
  airflow_image           = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/baton-test/airflow:abc123"
  jobs_image              = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/baton-test/jobs:abc123"
  task_log_group_arn      = "arn:aws:logs:eu-central-1:123456789012:log-group:/baton-test/task-logs"
  database_host           = "db.internal"
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
    BATON_DB_MASTER_PASSWORD = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds:password::"
    MELTANO_DATABASE_URI     = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db"
  }
  jobs_secrets = {
    MELTANO_DATABASE_URI = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:meltano-db"
    BATON_SHOP_DB_URL    = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop-db"
  }
}

run "four_airflow_components_from_one_map" {
  command = plan

  assert {
    condition     = toset(keys(output.services)) == toset(["api-server", "scheduler", "dag-processor", "triggerer"])
    error_message = "the service map must hold exactly the four Airflow 3 components"
  }
  assert {
    condition     = output.services["api-server"].port == 8080 && alltrue([for k, s in output.services : s.port == null if k != "api-server"])
    error_message = "only the api-server listens"
  }
  assert {
    condition     = alltrue([for k, s in output.services : s.family == "baton-test-${k}"])
    error_message = "task definition families are <name>-<component>"
  }
}

run "secrets_are_secrets_never_environment" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for s in output.services : [
        for c in s.container_definitions : [for e in c.environment : !contains(["AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "MELTANO_DATABASE_URI", "BATON_DB_MASTER_PASSWORD"], e.name)]
      ]
    ]))
    error_message = "a secret leaked into a container's environment"
  }
  assert {
    condition     = toset([for s in output.services["scheduler"].container_definitions[0].secrets : s.name]) == toset(keys(var.airflow_secrets))
    error_message = "every Airflow container gets the JWT secret, Fernet key and database URL as secrets"
  }
  assert {
    condition     = toset([for s in output.jobs.container_definitions[0].secrets : s.name]) == toset(["MELTANO_DATABASE_URI", "BATON_SHOP_DB_URL"])
    error_message = "the jobs container gets its database URLs as secrets"
  }
  assert {
    condition     = contains([for s in output.services["api-server"].container_definitions[0].secrets : s.name], "BATON_DB_MASTER_PASSWORD")
    error_message = "the init container needs the master password to create the databases"
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
    condition     = output.airflow_environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"
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

run "jobs_mount_the_warehouse" {
  command = plan

  assert {
    condition     = [for m in output.jobs.container_definitions[0].mountPoints : [m.containerPath, m.readOnly]] == [["/data/warehouse", false], ["/data/marketing", true]]
    error_message = "jobs write the warehouse and read the marketing files"
  }
}

run "overrides_and_validation" {
  command = plan

  variables {
    services               = { scheduler = { memory = 4096, desired_count = 2 } }
    jobs_capacity_provider = "FARGATE"
  }

  assert {
    condition     = output.services["scheduler"].memory == 4096 && output.services["scheduler"].desired_count == 2 && output.services["scheduler"].cpu == 1024
    error_message = "a service override changes only what it names"
  }
  assert {
    condition     = output.runner_environment["BATON_ECS_CAPACITY_PROVIDER"] == "FARGATE"
    error_message = "the capacity provider setting reaches the runner"
  }
}

run "rejects_an_unknown_component" {
  command = plan

  variables {
    services = { worker = { cpu = 256 } }
  }

  expect_failures = [var.services]
}
