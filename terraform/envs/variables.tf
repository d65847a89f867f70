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

# Sizes and switches of an environment (<env>.tfvars), grouped as modules/deployment takes them.
# Unset (null), and any attribute left out: modules/deployment's default, the secure and
# production-sized one; the descriptions there say what each does.

variable "site" {
  description = "The UI's site: { domain_name, allowed_cidrs }"
  type = object({
    domain_name   = optional(string)
    allowed_cidrs = optional(list(string))
  })
  default = null
}

variable "network" {
  description = "{ single_nat_gateway, interface_endpoints, source_cidrs (networks of source databases outside the VPC) }"
  type = object({
    single_nat_gateway  = optional(bool)
    interface_endpoints = optional(list(string))
    source_cidrs        = optional(list(string))
  })
  default = null
}

variable "database" {
  description = "The RDS instance: { instance_class, multi_az, backup_retention_days, performance_insights, monitoring_interval }"
  type = object({
    instance_class        = optional(string)
    multi_az              = optional(bool)
    backup_retention_days = optional(number)
    performance_insights  = optional(bool)
    monitoring_interval   = optional(number)
  })
  default = null
}

variable "protection" {
  description = "{ deletion_protection, skip_final_snapshot, force_destroy, secret_recovery_window_in_days, log_retention_days }"
  type = object({
    deletion_protection            = optional(bool)
    skip_final_snapshot            = optional(bool)
    force_destroy                  = optional(bool)
    secret_recovery_window_in_days = optional(number)
    log_retention_days             = optional(number)
  })
  default = null
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

variable "jobs" {
  description = "The job task: { cpu (1024 = 1 vCPU), memory (MiB: the job's memory limit), capacity_provider (FARGATE_SPOT or FARGATE) }"
  type = object({
    cpu               = optional(number)
    memory            = optional(number)
    capacity_provider = optional(string)
  })
  default = null
}

variable "warehouse" {
  description = "lake (DuckLake on RDS + S3, the default) or files (DuckDB files on EFS)"
  type        = string
  default     = null
}

variable "oidc" {
  description = "Sign-in through an OpenID Connect provider: { issuer (URL; unset: local users only), client_id, client_secret_version (bump to write a new oidc_client_secret), role_mapping (OIDC group -> one Airflow role: Admin, Op, User, Viewer), default_role (of someone in no mapped group; default Public: no rights), groups_claim (default groups), scopes (default \"openid email profile\") }"
  type = object({
    issuer                = optional(string)
    client_id             = optional(string)
    client_secret_version = optional(number)
    role_mapping          = optional(map(string))
    default_role          = optional(string)
    groups_claim          = optional(string)
    scopes                = optional(string)
  })
  default = null
}

# Not in the oidc object: an ephemeral variable is ephemeral as a whole, and the issuer and client
# ID go into task definitions and outputs, which take no ephemeral value.
variable "oidc_client_secret" {
  description = "Client secret at the OIDC provider: never in a tfvars file, the plan or the state; give it as TF_VAR_oidc_client_secret on the apply that sets or changes it (with oidc.client_secret_version bumped)"
  type        = string
  ephemeral   = true
  sensitive   = true
  default     = null
}

variable "secret_generation" {
  description = "Bump to regenerate the generated secrets (JWT secret, Fernet key, passwords, database passwords)"
  type        = number
  default     = null
}
