locals {
  # The four Airflow components, one map: the airflow module creates a task definition and a
  # service for each entry. Only the api-server listens (ALB target, execution API for tasks).
  # LocalExecutor: task code runs in the scheduler; heavy work goes to job tasks (the ecs runner),
  # which the triggerer waits for (deferrable operator), so neither needs to be large.
  service_defaults = {
    "api-server"    = { command = "exec airflow api-server --port ${var.execution_api_port}", cpu = 1024, memory = 2048, desired_count = 1, port = var.execution_api_port }
    "scheduler"     = { command = "exec airflow scheduler", cpu = 1024, memory = 2048, desired_count = 1, port = null }
    "dag-processor" = { command = "exec airflow dag-processor", cpu = 512, memory = 1024, desired_count = 1, port = null }
    "triggerer"     = { command = "exec airflow triggerer", cpu = 512, memory = 1024, desired_count = 1, port = null }
  }

  # Every component but the api-server waits for the schema the api-server's init container migrates.
  wait_for_schema = "airflow db check-migrations --migration-wait-timeout 600"

  health_checks = {
    "api-server"    = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.execution_api_port}/api/v2/monitor/health', timeout=5)"]
    "scheduler"     = ["CMD", "airflow", "jobs", "check", "--job-type", "SchedulerJob", "--local"]
    "dag-processor" = ["CMD", "airflow", "jobs", "check", "--job-type", "DagProcessorJob", "--local"]
    "triggerer"     = ["CMD", "airflow", "jobs", "check", "--job-type", "TriggererJob", "--local"]
  }

  execution_api_url = "http://${var.execution_api_host}:${var.execution_api_port}/execution/"

  # Airflow 3: DAGs come from an S3 bundle, so `make sync-dags` ships DAG changes without an image.
  dag_bundles = [{
    name      = "dags"
    classpath = "airflow.providers.amazon.aws.bundles.s3.S3DagBundle"
    kwargs = {
      bucket_name      = var.dag_bucket
      prefix           = var.dag_prefix
      refresh_interval = var.dag_refresh_interval
    }
  }]

  # What the ecs runner reads (dags/baton/runners.py, _ecs_operator). The DAG processor needs it to
  # build the operators, the scheduler to run them.
  runner_environment = {
    BATON_RUNNER                = "ecs"
    BATON_ECS_CLUSTER           = local.names.cluster
    BATON_ECS_TASK_DEFINITION   = local.jobs_family
    BATON_ECS_CONTAINER         = local.jobs_container
    BATON_ECS_SUBNETS           = join(",", var.jobs_subnet_ids)
    BATON_ECS_SECURITY_GROUPS   = join(",", var.jobs_security_group_ids)
    BATON_ECS_LOG_GROUP         = local.names.jobs_log_group
    BATON_ECS_LOG_STREAM_PREFIX = local.jobs_stream_prefix
    BATON_ECS_CAPACITY_PROVIDER = var.jobs_capacity_provider
    BATON_ECS_DEFERRABLE        = "true"
    AWS_REGION                  = var.region
    AWS_DEFAULT_REGION          = var.region
  }

  airflow_environment = merge(
    {
      AIRFLOW__CORE__EXECUTOR                        = "LocalExecutor"
      AIRFLOW__CORE__LOAD_EXAMPLES                   = "False"
      AIRFLOW__CORE__EXECUTION_API_SERVER_URL        = local.execution_api_url
      AIRFLOW__API__BASE_URL                         = var.api_base_url
      AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST = jsonencode(local.dag_bundles)
      AIRFLOW__LOGGING__REMOTE_LOGGING               = var.task_log_group_arn == "" ? "False" : "True"
      AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER       = var.task_log_group_arn == "" ? "" : "cloudwatch://${var.task_log_group_arn}"
      AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID           = "aws_default"
    },
    local.runner_environment,
    var.airflow_environment,
  )

  # Every name the deployment's modules share, derived from one prefix.
  names = {
    cluster           = var.name
    jobs_family       = "${var.name}-jobs"
    airflow_log_group = "/${var.name}/airflow"
    jobs_log_group    = "/${var.name}/jobs"
    task_log_group    = "/${var.name}/task-logs"
  }

  jobs_family        = local.names.jobs_family
  jobs_container     = "jobs"
  jobs_stream_prefix = "jobs"

  services = {
    for name, d in local.service_defaults : name => {
      cpu                        = coalesce(try(var.services[name].cpu, null), d.cpu)
      memory                     = coalesce(try(var.services[name].memory, null), d.memory)
      desired_count              = coalesce(try(var.services[name].desired_count, null), d.desired_count)
      port                       = d.port
      family                     = "${var.name}-${name}"
      container                  = "airflow"
      container_definitions_json = jsonencode(local.service_containers[name])
      container_definitions      = local.service_containers[name]
    }
  }

  service_containers = {
    for name, d in local.service_defaults : name => concat(
      name == "api-server" ? [local.init_container] : [],
      [{
        name       = "airflow"
        image      = var.airflow_image
        essential  = true
        entryPoint = ["/bin/sh", "-c"]
        command    = [name == "api-server" ? d.command : "${local.wait_for_schema} && ${d.command}"]
        portMappings = d.port == null ? [] : [{
          name          = name
          containerPort = d.port
          protocol      = "tcp"
          appProtocol   = "http"
        }]
        environment            = [for k in sort(keys(local.airflow_environment)) : { name = k, value = local.airflow_environment[k] }]
        secrets                = [for k in sort(keys(var.airflow_secrets)) : { name = k, valueFrom = var.airflow_secrets[k] }]
        healthCheck            = { command = local.health_checks[name], interval = 30, timeout = 10, retries = 3, startPeriod = 120 }
        dependsOn              = name == "api-server" ? [{ containerName = "init", condition = "SUCCESS" }] : []
        readonlyRootFilesystem = false
        privileged             = false
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = local.names.airflow_log_group
            awslogs-region        = var.region
            awslogs-stream-prefix = name
          }
        }
      }],
    )
  }

  init_environment = merge(local.airflow_environment, {
    BATON_DB_HOST = var.database_host
    BATON_DB_PORT = tostring(var.database_port)
  })

  # Creates the airflow and meltano roles and databases, migrates Airflow's schema, creates the pool.
  init_container = {
    name                   = "init"
    image                  = var.airflow_image
    essential              = false
    entryPoint             = ["python", "-c"]
    command                = [file("${path.module}/files/db_init.py")]
    environment            = [for k in sort(keys(local.init_environment)) : { name = k, value = local.init_environment[k] }]
    secrets                = [for k in sort(keys(merge(var.airflow_secrets, var.init_secrets))) : { name = k, valueFrom = merge(var.airflow_secrets, var.init_secrets)[k] }]
    readonlyRootFilesystem = false
    privileged             = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.names.airflow_log_group
        awslogs-region        = var.region
        awslogs-stream-prefix = "init"
      }
    }
  }

  jobs_environment = merge(
    {
      MELTANO_ENVIRONMENT = "prod"
      BATON_WAREHOUSE_DIR = "/data/warehouse"
      BATON_MARKETING_DIR = "/data/marketing"
    },
    var.jobs_environment,
  )

  # The one job task definition (no service): the ecs runner overrides its command per task.
  jobs = {
    family                     = local.jobs_family
    container                  = local.jobs_container
    cpu                        = var.jobs_cpu
    memory                     = var.jobs_memory
    container_definitions_json = jsonencode(local.jobs_containers)
    container_definitions      = local.jobs_containers
  }

  jobs_containers = [{
    name      = local.jobs_container
    image     = var.jobs_image
    essential = true
    # The one container has the whole task: its hard memory limit is the task's.
    cpu         = var.jobs_cpu
    memory      = var.jobs_memory
    command     = ["--help"]
    environment = [for k in sort(keys(local.jobs_environment)) : { name = k, value = local.jobs_environment[k] }]
    secrets     = [for k in sort(keys(var.jobs_secrets)) : { name = k, valueFrom = var.jobs_secrets[k] }]
    mountPoints = [
      { sourceVolume = var.warehouse_volume, containerPath = "/data/warehouse", readOnly = false },
      { sourceVolume = var.marketing_volume, containerPath = "/data/marketing", readOnly = true },
    ]
    # DuckDB and Meltano write temporary files next to the project; the warehouse is on EFS.
    readonlyRootFilesystem = false
    privileged             = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.names.jobs_log_group
        awslogs-region        = var.region
        awslogs-stream-prefix = local.jobs_stream_prefix
      }
    }
  }]
}
