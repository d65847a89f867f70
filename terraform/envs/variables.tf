variable "region" {
  description = "AWS region of the deployment"
  type        = string
  default     = "eu-central-1"
}

variable "environment" {
  description = "Environment name (part of every resource name): set in <env>.tfvars"
  type        = string
}

variable "image_tag" {
  description = "Tag of the airflow and jobs images (make deploy sets the git commit)"
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the UI's host name"
  type        = string
}

variable "domain_name" {
  description = "Host name of the UI; unset or empty: the load balancer's DNS name"
  type        = string
  default     = null
}

variable "allowed_cidrs" {
  description = "Client networks allowed to reach the UI (unset: anyone)"
  type        = list(string)
  default     = null
}

variable "source_cidrs" {
  description = "Networks outside the VPC holding source databases"
  type        = list(string)
  default     = null
}

variable "aws_endpoint_url" {
  description = "One endpoint for every AWS service (an emulator such as moto); empty: the real AWS endpoints"
  type        = string
  default     = ""
}

# tests/cloud applies dev to moto, which lacks EFS backup and file system policies
# (their create or delete calls never finish there). emulator = true leaves out those two and
# nothing else. The default, false, is the secure setting: never set it for a deployment to AWS.
variable "emulator" {
  description = "Leave out what the AWS emulator (moto) cannot emulate: EFS backup and file system policies. Only for tests/cloud"
  type        = bool
  default     = false
}

# Sizes and switches of an environment (<env>.tfvars). Unset (null): modules/deployment's
# default, the secure and production-sized one; the descriptions there say what each does.

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones instead of one per zone"
  type        = bool
  default     = null
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints instead of NAT"
  type        = list(string)
  default     = null
}

variable "db_instance_class" {
  description = "RDS instance class of the metadata database"
  type        = string
  default     = null
}

variable "db_multi_az" {
  description = "Standby of the metadata database in a second zone"
  type        = bool
  default     = null
}

variable "db_backup_retention_days" {
  description = "Days of automated backups of the metadata database"
  type        = number
  default     = null
}

variable "enable_performance_insights" {
  description = "Performance Insights on the metadata database (not offered on db.t4g.micro/small)"
  type        = bool
  default     = null
}

variable "services" {
  description = "Per Airflow component overrides of cpu, memory and desired_count, e.g. { scheduler = { memory = 4096 } }"
  type = map(object({
    cpu           = optional(number)
    memory        = optional(number)
    desired_count = optional(number)
  }))
  default = null
}

variable "jobs_cpu" {
  description = "CPU units of a job task (1024 = 1 vCPU)"
  type        = number
  default     = null
}

variable "jobs_memory" {
  description = "Memory (MiB) of a job task"
  type        = number
  default     = null
}

variable "jobs_capacity_provider" {
  description = "FARGATE_SPOT or FARGATE for job tasks"
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Deletion protection of the database and the load balancer"
  type        = bool
  default     = null
}

variable "skip_final_snapshot" {
  description = "Delete the database without a final snapshot (throwaway environments only)"
  type        = bool
  default     = null
}

variable "force_destroy" {
  description = "Let destroy delete the image repositories and the DAG bucket with their contents (throwaway environments only)"
  type        = bool
  default     = null
}

variable "secret_recovery_window_in_days" {
  description = "Days deleted secrets can be restored (0: at once)"
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Days logs are kept"
  type        = number
  default     = null
}

variable "secret_generation" {
  description = "Bump to regenerate the JWT secret, Fernet key and database passwords"
  type        = number
  default     = null
}
