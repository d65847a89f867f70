variable "name" {
  description = "Name prefix of every resource of the deployment, e.g. baton-dev (project-environment)"
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or dashes, starting with a letter (it prefixes ECS, RDS and S3 names)."
  }
}

variable "region" {
  description = "AWS region the deployment runs in (awslogs driver, AWS SDK defaults)"
  type        = string
}

variable "airflow_image" {
  description = "Airflow image URI with tag (the api-server, scheduler, dag-processor and triggerer run it)"
  type        = string
}

variable "jobs_image" {
  description = "Jobs image URI with tag (Meltano + dbt; the ecs runner starts it as one-off tasks)"
  type        = string
}

variable "task_log_group_arn" {
  description = "ARN of the CloudWatch log group holding Airflow task logs (remote logging); empty disables remote logging"
  type        = string
  default     = ""
}

variable "airflow_secrets" {
  description = "Secrets of every Airflow container: environment variable name -> Secrets Manager ARN (or ARN:json-key::)"
  type        = map(string)
}

variable "init_secrets" {
  description = "Extra secrets of the api-server's init container, which creates the databases and migrates Airflow's: the RDS master user, the URLs named by BATON_INIT_DATABASES and BATON_INIT_READERS, the first admin's password BATON_AIRFLOW_PASSWORD and the service account's BATON_AUTOMATION_PASSWORD"
  type        = map(string)
  default     = {}
}

variable "jobs_secrets" {
  description = "Secrets of the jobs container besides the sources' (MELTANO_DATABASE_URI, BATON_LAKE_CATALOG_URL): environment variable name -> Secrets Manager ARN"
  type        = map(string)
}

variable "secret_arns" {
  description = "Secrets Manager ARN by secret key (the secrets module's arns): the jobs container gets each source secret (output source_secrets) from its key"
  type        = map(string)
  default     = {}
}

variable "jobs_environment" {
  description = "Plain settings of the jobs container (no secrets: those go in jobs_secrets)"
  type        = map(string)
  default     = {}
}

variable "airflow_environment" {
  description = "Extra plain settings of every Airflow container (no secrets: those go in airflow_secrets)"
  type        = map(string)
  default     = {}
}

variable "api_base_url" {
  description = "Public URL of the Airflow UI/API, e.g. https://airflow.example.com/ (AIRFLOW__API__BASE_URL)"
  type        = string
}

variable "execution_api_host" {
  description = "Host name tasks use for the api-server (the Service Connect / Cloud Map alias)"
  type        = string
  default     = "api-server"
}

variable "dag_bucket" {
  description = "S3 bucket of the DAG bundle (make sync-dags writes it, the S3DagBundle reads it)"
  type        = string
}

variable "dag_prefix" {
  description = "Key prefix of the DAG bundle in dag_bucket"
  type        = string
  default     = "dags"
}

variable "dag_refresh_interval" {
  description = "Seconds between two downloads of the DAG bundle by the dag-processor and workers"
  type        = number
  default     = 60
}

variable "jobs_subnet_ids" {
  description = "Private subnets job tasks run in (BATON_ECS_SUBNETS)"
  type        = list(string)
}

variable "jobs_security_group_ids" {
  description = "Security groups of job tasks (BATON_ECS_SECURITY_GROUPS)"
  type        = list(string)
}

variable "services" {
  description = "Per Airflow component overrides of cpu, memory (MiB) and desired_count, e.g. { scheduler = { memory = 4096 } }"
  type = map(object({
    cpu           = optional(number)
    memory        = optional(number)
    desired_count = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.services) : contains(["api-server", "scheduler", "dag-processor", "triggerer"], k)])
    error_message = "services keys must be Airflow components: api-server, scheduler, dag-processor, triggerer."
  }
}

variable "jobs" {
  description = "The one job task: cpu (1024 = 1 vCPU), memory (MiB: the job's memory limit, the container's hard limit; DuckDB sizes its memory_limit, threads and spilling from it), capacity_provider (FARGATE_SPOT: cheap, may be interrupted, jobs retry; or FARGATE)"
  type = object({
    cpu               = optional(number, 1024)
    memory            = optional(number, 2048)
    capacity_provider = optional(string, "FARGATE_SPOT")
  })
  nullable = false
  default  = {}

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.jobs.capacity_provider)
    error_message = "jobs.capacity_provider must be FARGATE or FARGATE_SPOT."
  }

  # Fargate's task sizes: memory in this range and step for each CPU size.
  validation {
    condition = (var.jobs.cpu == 256 ? contains([512, 1024, 2048], var.jobs.memory) :
      contains(keys(local.fargate_memory), tostring(var.jobs.cpu)) ? (
        var.jobs.memory >= local.fargate_memory[tostring(var.jobs.cpu)][0] &&
        var.jobs.memory <= local.fargate_memory[tostring(var.jobs.cpu)][1] &&
        var.jobs.memory % local.fargate_memory[tostring(var.jobs.cpu)][2] == 0
    ) : false)
    error_message = "jobs.cpu ${var.jobs.cpu} with jobs.memory ${var.jobs.memory} is no Fargate task size: 1024 CPU takes 2048-8192 MiB in steps of 1024, 2048 takes 4096-16384 (AWS: Fargate task CPU and memory)."
  }
}

variable "warehouse" {
  description = "The warehouse: lake (DuckLake: catalog database on RDS, Parquet on S3; no single writer) or files (DuckDB files on EFS)"
  type        = string
  nullable    = false
  default     = "lake"

  validation {
    condition     = contains(["lake", "files"], var.warehouse)
    error_message = "warehouse must be lake or files."
  }
}

variable "lake_data_path" {
  description = "The lake's DATA_PATH, s3://<bucket>/<prefix>/ (BATON_LAKE_DATA_PATH); needed when warehouse = lake"
  type        = string
  nullable    = false
  default     = ""
}

variable "api_server_secrets" {
  description = "Secrets of the api-server's airflow container only: the OIDC client's BATON_OIDC_CLIENT_SECRET -> Secrets Manager ARN"
  type        = map(string)
  nullable    = false
  default     = {}
}

variable "oidc" {
  description = "Sign-in through an OpenID Connect provider, or null: { issuer, client_id, role_mapping (group -> Airflow role), default_role, groups_claim, scopes (empty: the image's defaults) }; the client secret goes in api_server_secrets"
  type = object({
    issuer       = string
    client_id    = string
    role_mapping = map(string)
    default_role = optional(string, "")
    groups_claim = optional(string, "")
    scopes       = optional(string, "")
  })
  default = null

  validation {
    condition     = var.oidc == null || alltrue([for role in values(try(var.oidc.role_mapping, {})) : contains(["Admin", "Op", "User", "Viewer"], role)])
    error_message = "oidc.role_mapping maps groups to the roles Admin, Op, User or Viewer."
  }
}

variable "warehouse_volume" {
  description = "Name of the warehouse in files mode: its task volume and EFS access point, its folder under BATON_JOB_DATA_DIR (read-write in jobs)"
  type        = string
  default     = "warehouse"
}


variable "settings_file" {
  description = "The kit's settings file (KEY=VALUE lines); null: settings.env at the repository's root"
  type        = string
  default     = null
}

variable "sources_dir" {
  description = "Folder of the sources' Meltano files (<name>.meltano.yml with a `baton:` block); null: meltano/sources of the repository"
  type        = string
  default     = null
}
