# Inputs with nullable = false take their default when given null: envs/ passes null for what an
# environment's tfvars leaves unset, so every default lives here once.

variable "project" {
  description = "Project name: the first part of every resource name"
  type        = string
  default     = "baton"
}

variable "environment" {
  description = "Environment name (dev, prod, ...): the second part of every resource name"
  type        = string
}

variable "image_tag" {
  description = "Tag of the airflow and jobs images to run (make deploy pushes both under the git commit)"
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the UI's host name (HTTPS listener)"
  type        = string
}

variable "domain_name" {
  description = "Host name of the UI (e.g. airflow.example.com); empty uses the load balancer's DNS name"
  type        = string
  nullable    = false
  default     = ""
}

variable "allowed_cidrs" {
  description = "Client networks allowed to reach the UI"
  type        = list(string)
  nullable    = false
  default     = ["0.0.0.0/0"]
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC"
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to use (2 or 3): <region>a, <region>b, <region>c"
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "availability_zones" {
  description = "Zone names to use instead of the first az_count of <region>a/b/c (regions whose zones are named otherwise)"
  type        = list(string)
  default     = []
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones instead of one per zone"
  type        = bool
  nullable    = false
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints instead of NAT (each costs per hour and zone)"
  type        = list(string)
  nullable    = false
  default     = []
}

variable "source_cidrs" {
  description = "Networks outside the VPC holding source databases (jobs may reach them on 5432)"
  type        = list(string)
  nullable    = false
  default     = []
}

variable "db_instance_class" {
  description = "RDS instance class of the metadata database"
  type        = string
  nullable    = false
  default     = "db.t4g.medium"
}

variable "db_multi_az" {
  description = "Standby of the metadata database in a second zone"
  type        = bool
  nullable    = false
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups of the metadata database"
  type        = number
  nullable    = false
  default     = 14
}

variable "enable_performance_insights" {
  description = "Performance Insights on the metadata database (not offered on db.t4g.micro/small)"
  type        = bool
  nullable    = false
  default     = true
}

variable "db_monitoring_interval" {
  description = "Seconds between Enhanced Monitoring samples of the database (0 turns it off)"
  type        = number
  default     = 60
}

variable "enable_efs_backup" {
  description = "Daily AWS Backup of the warehouse file system. Keep true; false exists only for AWS emulators without it"
  type        = bool
  default     = true
}

variable "enable_efs_file_system_policy" {
  description = "Warehouse file system policy (TLS only, access points only). Keep true; false exists only for AWS emulators without it"
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Deletion protection of the database and the load balancer"
  type        = bool
  nullable    = false
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete the database without a final snapshot (throwaway environments only)"
  type        = bool
  nullable    = false
  default     = false
}

variable "force_destroy" {
  description = "Let destroy delete the image repositories and the DAG bucket with their contents (throwaway environments only)"
  type        = bool
  nullable    = false
  default     = false
}

variable "secret_recovery_window_in_days" {
  description = "Days deleted secrets can be restored (0: at once, so a throwaway environment can be recreated under the same names)"
  type        = number
  nullable    = false
  default     = 30
}

variable "log_retention_days" {
  description = "Days logs are kept (components, task logs, jobs, VPC flow log)"
  type        = number
  nullable    = false
  default     = 365
}

variable "services" {
  description = "Per Airflow component overrides of cpu, memory and desired_count, e.g. { scheduler = { memory = 4096 } }"
  type = map(object({
    cpu           = optional(number)
    memory        = optional(number)
    desired_count = optional(number)
  }))
  nullable = false # null (an environment that does not set it): the default
  default  = {}
}

variable "jobs_cpu" {
  description = "CPU units of a job task (1024 = 1 vCPU)"
  type        = number
  nullable    = false
  default     = 1024
}

variable "jobs_memory" {
  description = "Memory (MiB) of a job task"
  type        = number
  nullable    = false
  default     = 4096
}

variable "jobs_capacity_provider" {
  description = "FARGATE_SPOT (about 70% cheaper; a reclaimed job fails and Airflow retries it) or FARGATE"
  type        = string
  nullable    = false
  default     = "FARGATE_SPOT"
}

variable "secret_generation" {
  description = "Bump to regenerate the JWT secret, Fernet key and database passwords (then redeploy every component)"
  type        = number
  nullable    = false
  default     = 1
}

variable "tags" {
  description = "Extra tags of every resource"
  type        = map(string)
  default     = {}
}
