locals {
  # Fargate's memory (MiB) per CPU size: [min, max, step] (256 CPU: 512, 1024 or 2048).
  fargate_memory = {
    "512"   = [1024, 4096, 1024]
    "1024"  = [2048, 8192, 1024]
    "2048"  = [4096, 16384, 1024]
    "4096"  = [8192, 30720, 1024]
    "8192"  = [16384, 61440, 4096]
    "16384" = [32768, 122880, 8192]
  }

  # The kit's constants (settings.env at the repository's root: KEY=VALUE lines), read here once;
  # the deployment module passes on what other modules need (the api-server's port to the ALB).
  settings_file = coalesce(var.settings_file, "${path.module}/../../../settings.env")
  settings      = { for m in regexall("(?m)^([A-Z][A-Z0-9_]*)=(.*)$", file(local.settings_file)) : m[0] => trimspace(m[1]) }
  api_port      = tonumber(local.settings["BATON_AIRFLOW_PORT"])
  data_dir      = local.settings["BATON_JOB_DATA_DIR"]

  # The sources' declarations: the `baton:` block of every meltano/sources/<name>.meltano.yml
  # names the environment variables holding its secrets and the folders it reads. Adding a
  # source file adds its secrets and folders here, with no Terraform edit.
  sources_dir = coalesce(var.sources_dir, "${path.module}/../../../meltano/sources")
  sources = {
    for f in fileset(local.sources_dir, "*.meltano.yml") : trimsuffix(f, ".meltano.yml") => try(yamldecode(file("${local.sources_dir}/${f}")).baton, {})
  }
  source_secret_names = { for name, d in local.sources : name => try([for s in d.secrets : s], []) }
  source_folders      = { for name, d in local.sources : name => try({ for k, v in d.folders : k => v }, {}) }
  # One Secrets Manager secret per declared variable: BATON_SHOP_DB_URL -> <name>/shop-db-url.
  source_secrets = {
    for env in distinct(flatten(values(local.source_secret_names))) : env => {
      key         = replace(lower(trimprefix(env, "BATON_")), "_", "-")
      sources     = sort([for name, list in local.source_secret_names : name if contains(list, env)])
      description = "${env} of the source(s) ${join(", ", sort([for name, list in local.source_secret_names : name if contains(list, env)]))} (meltano/sources): set it with aws secretsmanager put-secret-value"
    }
  }
  # Folder variable -> folder under the data folder; each folder is an EFS access point mounted
  # read-only at <BATON_JOB_DATA_DIR>/<folder>. In `files` mode the warehouse is one more, the one
  # writable folder; in `lake` mode the warehouse is the lake (S3 + the catalog database), so a
  # deployment without file sources has no volume, and so no EFS.
  folder_variables = merge(values(local.source_folders)...)
  folders          = toset(values(local.folder_variables))
  lake             = var.warehouse == "lake"
  jobs_volumes = merge(
    local.lake ? {} : { (var.warehouse_volume) = { path = "/${var.warehouse_volume}", container_path = "${local.data_dir}/${var.warehouse_volume}", read_only = false } },
    { for folder in local.folders : folder => { path = "/${folder}", container_path = "${local.data_dir}/${folder}", read_only = true } },
  )

  # The lake's catalog: the init container creates its owner role and database (as it does
  # Airflow's and Meltano's) and its read-only role; jobs get the owner's URL as a secret.
  init_databases      = concat(["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "MELTANO_DATABASE_URI"], local.lake ? [local.lake_catalog_secret] : [])
  init_readers        = local.lake ? [local.lake_reader_secret] : []
  lake_catalog_secret = "BATON_LAKE_CATALOG_URL"
  lake_reader_secret  = "BATON_LAKE_READER_URL"
  warehouse_environment = local.lake ? {
    BATON_WAREHOUSE      = "lake"
    BATON_LAKE_DATA_PATH = var.lake_data_path
    BATON_LAKE_S3_REGION = var.region
    } : {
    BATON_WAREHOUSE     = "files"
    BATON_WAREHOUSE_DIR = "${local.data_dir}/${var.warehouse_volume}"
  }

  # Sign-in: the FAB auth manager (roles Admin, Op, User, Viewer); the first admin is
  # BATON_AIRFLOW_USER (settings.env) with the password of the secret BATON_AIRFLOW_PASSWORD.
  # OIDC, when an issuer is set: the client secret is a secret, the rest plain settings.
  oidc_environment = var.oidc == null ? {} : merge(
    {
      BATON_OIDC_ISSUER    = var.oidc.issuer
      BATON_OIDC_CLIENT_ID = var.oidc.client_id
      BATON_OIDC_ROLES     = jsonencode(var.oidc.role_mapping)
    },
    # Set only when given: the image's defaults otherwise (images/airflow/webserver_config.py).
    { for k, v in { BATON_OIDC_DEFAULT_ROLE = var.oidc.default_role, BATON_OIDC_GROUPS_CLAIM = var.oidc.groups_claim, BATON_OIDC_SCOPES = var.oidc.scopes } : k => v if v != "" },
  )

  # The four Airflow components, one map: the airflow module creates a task definition and a
  # service for each entry. Only the api-server listens (ALB target, execution API for tasks).
  # LocalExecutor: task code runs in the scheduler; heavy work goes to job tasks (the ecs runner),
  # which the triggerer waits for (deferrable operator), so neither needs to be large.
  service_defaults = {
    "api-server"    = { command = "exec airflow api-server --port ${local.api_port}", cpu = 1024, memory = 2048, desired_count = 1, port = local.api_port }
    "scheduler"     = { command = "exec airflow scheduler", cpu = 1024, memory = 2048, desired_count = 1, port = null }
    "dag-processor" = { command = "exec airflow dag-processor", cpu = 512, memory = 1024, desired_count = 1, port = null }
    "triggerer"     = { command = "exec airflow triggerer", cpu = 512, memory = 1024, desired_count = 1, port = null }
  }

  # Every component but the api-server waits for the schema the api-server's init container migrates.
  wait_for_schema = "airflow db check-migrations --migration-wait-timeout 600"

  health_checks = {
    "api-server"    = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.api_port}/api/v2/monitor/health', timeout=5)"]
    "scheduler"     = ["CMD", "airflow", "jobs", "check", "--job-type", "SchedulerJob", "--local"]
    "dag-processor" = ["CMD", "airflow", "jobs", "check", "--job-type", "DagProcessorJob", "--local"]
    "triggerer"     = ["CMD", "airflow", "jobs", "check", "--job-type", "TriggererJob", "--local"]
  }

  execution_api_url = "http://${var.execution_api_host}:${local.api_port}/execution/"

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
    BATON_ECS_CAPACITY_PROVIDER = var.jobs.capacity_provider
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
      AIRFLOW__CORE__AUTH_MANAGER                    = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
      BATON_AIRFLOW_USER                             = local.settings["BATON_AIRFLOW_USER"]
      BATON_WAREHOUSE_POOL                           = local.settings["BATON_WAREHOUSE_POOL"]
      BATON_WAREHOUSE                                = var.warehouse
    },
    local.oidc_environment,
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

  # Where each container's output goes: the Airflow components' and the init container's into the
  # Airflow log group, the job's into the jobs log group, one stream prefix each.
  log_streams = merge({ for name in concat(keys(local.service_defaults), ["init"]) : name => local.names.airflow_log_group }, { (local.jobs_stream_prefix) = local.names.jobs_log_group })
  log_configuration = {
    for prefix, group in local.log_streams : prefix => { logDriver = "awslogs", options = { awslogs-group = group, awslogs-region = var.region, awslogs-stream-prefix = prefix } }
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
        secrets                = [for k, arn in local.component_secrets[name] : { name = k, valueFrom = arn }]
        healthCheck            = { command = local.health_checks[name], interval = 30, timeout = 10, retries = 3, startPeriod = 120 }
        dependsOn              = name == "api-server" ? [{ containerName = "init", condition = "SUCCESS" }] : []
        readonlyRootFilesystem = false
        privileged             = false
        logConfiguration       = local.log_configuration[name]
      }],
    )
  }

  # Secrets by component (maps iterate in key order): every component gets airflow_secrets; the
  # api-server also the OIDC client's. The accounts' passwords go to the init container only.
  component_secrets = { for name in keys(local.service_defaults) : name => merge(var.airflow_secrets, name == "api-server" ? var.api_server_secrets : {}) }
  init_secrets      = merge(var.airflow_secrets, var.init_secrets)

  # baton-airflow-init (images/airflow): as the RDS master user (init_secrets) creates the roles
  # and databases named in the BATON_INIT_DATABASES URLs and the read-only roles of the
  # BATON_INIT_READERS URLs, migrates Airflow's schema, creates the warehouse pool, the roles, the
  # first admin (BATON_AIRFLOW_USER) and the service account of automation (role Op).
  init_environment = merge(local.airflow_environment, {
    BATON_INIT_DATABASES  = join(",", local.init_databases)
    BATON_INIT_READERS    = join(",", local.init_readers)
    BATON_AUTOMATION_USER = local.settings["BATON_AUTOMATION_USER"]
  })

  init_container = {
    name                   = "init"
    image                  = var.airflow_image
    essential              = false
    command                = ["baton-airflow-init"]
    environment            = [for k in sort(keys(local.init_environment)) : { name = k, value = local.init_environment[k] }]
    secrets                = [for k, arn in local.init_secrets : { name = k, valueFrom = arn }]
    readonlyRootFilesystem = false
    privileged             = false
    logConfiguration       = local.log_configuration["init"]
  }

  # The jobs container's secrets: the fixed ones plus one per variable the sources declare.
  jobs_secrets = merge(var.jobs_secrets, { for env, s in local.source_secrets : env => lookup(var.secret_arns, s.key, "") })

  jobs_environment = merge(
    {
      MELTANO_ENVIRONMENT = "prod"
      BATON_JOB_DATA_DIR  = local.data_dir
    },
    local.warehouse_environment,
    { for env, folder in local.folder_variables : env => local.jobs_volumes[folder].container_path },
    var.jobs_environment,
  )

  # The one job task definition (no service): the ecs runner overrides its command per task.
  jobs = {
    family                     = local.jobs_family
    container                  = local.jobs_container
    cpu                        = var.jobs.cpu
    memory                     = var.jobs.memory
    container_definitions_json = jsonencode(local.jobs_containers)
    container_definitions      = local.jobs_containers
  }

  jobs_containers = [{
    name      = local.jobs_container
    image     = var.jobs_image
    essential = true
    # The one container has the whole task: its hard memory limit is the task's, the job's limit.
    cpu         = var.jobs.cpu
    memory      = var.jobs.memory
    command     = ["--help"]
    environment = [for k in sort(keys(local.jobs_environment)) : { name = k, value = local.jobs_environment[k] }]
    secrets     = [for k in sort(keys(local.jobs_secrets)) : { name = k, valueFrom = local.jobs_secrets[k] }]
    mountPoints = [
      for name in concat(local.lake ? [] : [var.warehouse_volume], sort(tolist(local.folders))) : {
        sourceVolume  = name
        containerPath = local.jobs_volumes[name].container_path
        readOnly      = local.jobs_volumes[name].read_only
      }
    ]
    # DuckDB (its spill files) and Meltano write temporary files next to the project.
    readonlyRootFilesystem = false
    privileged             = false
    logConfiguration       = local.log_configuration[local.jobs_stream_prefix]
  }]
}
