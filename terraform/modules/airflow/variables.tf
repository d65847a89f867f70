variable "name" {
  description = "Name prefix of the Airflow resources"
  type        = string
}

variable "services" {
  description = "The Airflow components from the spec module (its `services` output): name -> { family, container, cpu, memory, desired_count, port, container_definitions_json }"
  type = map(object({
    family                     = string
    container                  = string
    cpu                        = number
    memory                     = number
    desired_count              = number
    port                       = number
    container_definitions_json = string
  }))
}

variable "cluster_arn" {
  description = "ECS cluster the services run on"
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster (scopes the task role's ecs:DescribeTasks/StopTask)"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the services"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the services (no public IPs)"
  type        = list(string)
}

variable "target_group_arn" {
  description = "ALB target group of the api-server"
  type        = string
}

variable "service_connect_namespace_arn" {
  description = "Cloud Map namespace for Service Connect; null turns it off (then point AIRFLOW__CORE__EXECUTION_API_SERVER_URL elsewhere)"
  type        = string
  default     = null
}

variable "log_group_name" {
  description = "Log group of the components' container output"
  type        = string
}

variable "task_log_group_name" {
  description = "Log group of Airflow task logs (remote logging)"
  type        = string
}

variable "log_retention_days" {
  description = "Days logs are kept"
  type        = number
  default     = 365
}

variable "repository_arn" {
  description = "ECR repository of the Airflow image (the execution role may pull only from it)"
  type        = string
}

variable "secret_arns" {
  description = "Secrets the execution role may read to inject into the containers"
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key of the secrets, logs and DAG bucket"
  type        = string
}

variable "dag_bucket_arn" {
  description = "S3 bucket of the DAG bundle (read-only for Airflow)"
  type        = string
}

variable "jobs_task_definition_arn" {
  description = "Job task definition family ARN (without revision): the only task definition Airflow may run"
  type        = string
}

variable "jobs_role_arns" {
  description = "Execution and task roles of job tasks (Airflow may pass only these, only to ECS)"
  type        = list(string)
}

variable "jobs_log_group_arn" {
  description = "Log group of job output (Airflow reads it into the task log)"
  type        = string
}

variable "health_check_grace_period" {
  description = "Seconds the ALB's health check is ignored after an api-server task starts (init container + startup)"
  type        = number
  default     = 300
}

variable "security_group_rules" {
  description = "Rules of the Airflow tasks' security group (modules/security-group): { ingress, egress }, each rule name -> { description, from_port, to_port (null: from_port), ip_protocol (tcp), cidr_ipv4 or referenced_security_group_id (\"self\": this group) }"
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
