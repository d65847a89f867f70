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

variable "efs" {
  description = "The file system of the job's volumes, or null when it has none: { file_system_id, file_system_arn, access_point_ids and access_point_arns by volume name, writable (the volumes the task role may write; the rest are mounted read-only) }"
  type = object({
    file_system_id    = string
    file_system_arn   = string
    access_point_ids  = map(string)
    access_point_arns = map(string)
    writable          = optional(set(string), [])
  })
  default = null
}

variable "task_policy_documents" {
  description = "More policy documents (JSON) of the task role, e.g. the lake's read-write access to its prefix"
  type        = list(string)
  nullable    = false
  default     = []
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

variable "security_group_rules" {
  description = "Rules of the job tasks' security group (modules/security-group): { ingress, egress }, each rule name -> { description, from_port, to_port (null: from_port), ip_protocol (tcp), cidr_ipv4 or referenced_security_group_id (\"self\": this group) }"
  type = object({
    ingress = optional(map(object({
      description                  = string
      from_port                    = number
      to_port                      = optional(number)
      ip_protocol                  = optional(string, "tcp")
      cidr_ipv4                    = optional(string)
      referenced_security_group_id = optional(string)
    })), {})
    egress = optional(map(object({
      description                  = string
      from_port                    = number
      to_port                      = optional(number)
      ip_protocol                  = optional(string, "tcp")
      cidr_ipv4                    = optional(string)
      referenced_security_group_id = optional(string)
    })), {})
  })
  nullable = false
  default  = {}
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
