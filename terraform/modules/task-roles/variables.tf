variable "name" {
  description = "Prefix of the two roles (<name>-task, <name>-execution), e.g. baton-dev-airflow"
  type        = string
}

variable "task_policy_json" {
  description = "Inline policy of the task role: what the containers may do"
  type        = string
}

variable "repository_arn" {
  description = "ECR repository the execution role may pull from"
  type        = string
}

variable "log_group_arn" {
  description = "CloudWatch log group the execution role may write the containers' output to"
  type        = string
}

variable "secret_arns" {
  description = "Secrets Manager secrets the execution role injects as container `secrets`"
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting those secrets and the image"
  type        = string
}

variable "tags" {
  description = "Tags for the roles"
  type        = map(string)
  default     = {}
}
