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
  description = "Extra secrets of the api-server's init container, which creates the databases and migrates Airflow's (e.g. the RDS master user)"
  type        = map(string)
  default     = {}
}

variable "jobs_secrets" {
  description = "Secrets of the jobs container: environment variable name -> Secrets Manager ARN (MELTANO_DATABASE_URI, BATON_SHOP_DB_URL, ...)"
  type        = map(string)
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

variable "database_host" {
  description = "Host name of the Postgres instance holding the airflow and meltano databases (init container)"
  type        = string
}

variable "database_port" {
  description = "Port of the Postgres instance"
  type        = number
  default     = 5432
}

variable "api_base_url" {
  description = "Public URL of the Airflow UI/API, e.g. https://airflow.example.com/ (AIRFLOW__API__BASE_URL)"
  type        = string
}

variable "execution_api_port" {
  description = "Port the api-server listens on; tasks reach its execution API at http://api-server:<port>/execution/"
  type        = number
  default     = 8080
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

variable "jobs_capacity_provider" {
  description = "Capacity provider of job tasks: FARGATE_SPOT (cheap, may be interrupted: jobs retry) or FARGATE"
  type        = string
  default     = "FARGATE_SPOT"

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.jobs_capacity_provider)
    error_message = "jobs_capacity_provider must be FARGATE or FARGATE_SPOT."
  }
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

variable "jobs_cpu" {
  description = "CPU units of a job task (1024 = 1 vCPU)"
  type        = number
  default     = 1024
}

variable "jobs_memory" {
  description = "Memory (MiB) of a job task"
  type        = number
  default     = 4096
}

variable "warehouse_volume" {
  description = "Task volume name of the warehouse (EFS access point) mounted at /data/warehouse in jobs"
  type        = string
  default     = "warehouse"
}

variable "marketing_volume" {
  description = "Task volume name of the marketing files (EFS access point) mounted read-only at /data/marketing in jobs"
  type        = string
  default     = "marketing"
}
