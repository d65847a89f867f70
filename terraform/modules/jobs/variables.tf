variable "name" {
  description = "Name prefix of the jobs' resources"
  type        = string
}

variable "log_group_name" {
  description = "Log group of job output (the spec module names it)"
  type        = string
}

variable "spec" {
  description = "The job task definition from the spec module (its `jobs` output)"
  type = object({
    family                     = string
    container                  = string
    cpu                        = number
    memory                     = number
    container_definitions_json = string
  })
}

variable "vpc_id" {
  description = "VPC job tasks run in"
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (Postgres inside it)"
  type        = string
}

variable "source_cidrs" {
  description = "Networks outside the VPC that jobs reach on Postgres' port (source databases)"
  type        = list(string)
  default     = []
}

variable "efs_security_group_id" {
  description = "Security group of the EFS mount targets"
  type        = string
}

variable "efs_file_system_id" {
  description = "EFS file system of the warehouse"
  type        = string
}

variable "efs_file_system_arn" {
  description = "ARN of the EFS file system (the task role may mount it)"
  type        = string
}

variable "efs_access_point_ids" {
  description = "Access point IDs by task volume name (warehouse, marketing)"
  type        = map(string)
}

variable "efs_access_point_arns" {
  description = "Access point ARNs by task volume name: the task role may mount only these; marketing is read-only"
  type        = map(string)
}

variable "writable_volumes" {
  description = "Volumes the task role may write (the rest are mounted read-only)"
  type        = set(string)
  default     = ["warehouse"]
}

variable "repository_arn" {
  description = "ECR repository of the jobs image (the execution role may pull only from it)"
  type        = string
}

variable "secret_arns" {
  description = "Secrets the execution role may read to inject into the container"
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key of the secrets and the log group"
  type        = string
}

variable "log_retention_days" {
  description = "Days job output is kept"
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
