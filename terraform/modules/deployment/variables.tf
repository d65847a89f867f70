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

variable "site" {
  description = "The UI's site: domain_name (empty: the load balancer's DNS name), allowed_cidrs (client networks allowed to reach it)"
  type = object({
    domain_name   = optional(string, "")
    allowed_cidrs = optional(list(string), ["0.0.0.0/0"])
  })
  nullable = false
  default  = {}
}

variable "network" {
  description = "single_nat_gateway (one NAT gateway for all zones instead of one per zone), interface_endpoints (AWS services reached through interface endpoints instead of NAT; each costs per hour and zone), source_cidrs (networks outside the VPC holding source databases: jobs reach them on 5432)"
  type = object({
    single_nat_gateway  = optional(bool, false)
    interface_endpoints = optional(list(string), [])
    source_cidrs        = optional(list(string), [])
  })
  nullable = false
  default  = {}
}

variable "database" {
  description = "The RDS instance (Airflow, Meltano, the lake's catalog): instance_class, multi_az (standby in a second zone), backup_retention_days, performance_insights (not offered on db.t4g.micro/small), monitoring_interval (seconds between Enhanced Monitoring samples, 0 off)"
  type = object({
    instance_class        = optional(string, "db.t4g.medium")
    multi_az              = optional(bool, true)
    backup_retention_days = optional(number, 14)
    performance_insights  = optional(bool, true)
    monitoring_interval   = optional(number, 60)
  })
  nullable = false
  default  = {}
}

variable "protection" {
  description = "What guards against loss: deletion_protection (database, load balancer), skip_final_snapshot, force_destroy (destroy empties the image repositories and buckets), secret_recovery_window_in_days (0: at once, so a throwaway environment can be recreated under the same names), log_retention_days. Relax only in throwaway environments"
  type = object({
    deletion_protection            = optional(bool, true)
    skip_final_snapshot            = optional(bool, false)
    force_destroy                  = optional(bool, false)
    secret_recovery_window_in_days = optional(number, 30)
    log_retention_days             = optional(number, 365)
  })
  nullable = false
  default  = {}
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

variable "enable_efs_backup" {
  description = "Daily AWS Backup of the file system (file sources' folders, the files warehouse). Keep true; false exists only for AWS emulators without it"
  type        = bool
  default     = true
}

variable "enable_efs_file_system_policy" {
  description = "File system policy (TLS only, access points only). Keep true; false exists only for AWS emulators without it"
  type        = bool
  default     = true
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

variable "jobs" {
  description = "The job task (each job's limits): cpu (1024 = 1 vCPU), memory (MiB: the job's memory limit; DuckDB sizes its memory_limit, threads and spilling from it, and a job that still runs out names this setting), capacity_provider (FARGATE_SPOT: about 70% cheaper, a reclaimed job fails and Airflow retries it; or FARGATE). An attribute left out takes modules/spec's default (1024, 2048, FARGATE_SPOT)"
  type = object({
    cpu               = optional(number)
    memory            = optional(number)
    capacity_provider = optional(string)
  })
  nullable = false
  default  = {}
}

variable "warehouse" {
  description = "lake (DuckLake: catalog database on RDS, Parquet in an S3 bucket; many writers) or files (DuckDB files on EFS, one writer per file)"
  type        = string
  nullable    = false
  default     = "lake"
}

variable "oidc" {
  description = "Sign-in through an OpenID Connect provider: issuer (its issuer URL; empty: local users only), client_id (the deployment's client ID there), client_secret_version (bump to write a new oidc_client_secret), role_mapping (OIDC group -> one Airflow role: Admin, Op, User, Viewer, e.g. { \"data-team\" = \"Op\", \"analysts\" = \"Viewer\" }), default_role, groups_claim, scopes (empty: the image's defaults Public, groups, \"openid email profile\")"
  type = object({
    issuer                = optional(string, "")
    client_id             = optional(string, "")
    client_secret_version = optional(number, 1)
    role_mapping          = optional(map(string), {})
    default_role          = optional(string, "")
    groups_claim          = optional(string, "")
    scopes                = optional(string, "")
  })
  nullable = false
  default  = {}
}

# A variable of its own: ephemeral applies to a whole value, and oidc's other attributes reach
# task definitions and outputs, which take no ephemeral value.
variable "oidc_client_secret" {
  description = "Client secret at the OIDC provider: written to Secrets Manager (BATON_OIDC_CLIENT_SECRET), never to the plan or the state; give it on the apply that sets or changes it (TF_VAR_oidc_client_secret) and bump oidc.client_secret_version"
  type        = string
  ephemeral   = true
  sensitive   = true
  default     = null
}

variable "secret_generation" {
  description = "Bump to regenerate the generated secrets: JWT secret, Fernet key, API key, the admin and service account passwords, database passwords (then redeploy every component)"
  type        = number
  nullable    = false
  default     = 1
}

variable "tags" {
  description = "Extra tags of every resource"
  type        = map(string)
  default     = {}
}
