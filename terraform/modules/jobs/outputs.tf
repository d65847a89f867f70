output "task_definition_family" {
  description = "Family of the job task definition (BATON_ECS_TASK_DEFINITION: RunTask takes its newest revision)"
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the current revision of the job task definition"
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_arn_without_revision" {
  description = "ARN of the job task definition family (IAM: RunTask on any of its revisions)"
  value       = aws_ecs_task_definition.this.arn_without_revision
}

output "security_group_id" {
  description = "Security group of job tasks (BATON_ECS_SECURITY_GROUPS)"
  value       = module.security_group.id
}

output "log_group_name" {
  description = "Log group of job output (BATON_ECS_LOG_GROUP)"
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the job log group"
  value       = aws_cloudwatch_log_group.this.arn
}

output "execution_role_arn" {
  description = "Execution role of job tasks (Airflow's task role may pass it)"
  value       = module.roles.execution_role_arn
}

output "task_role_arn" {
  description = "Task role of job tasks (Airflow's task role may pass it)"
  value       = module.roles.task_role_arn
}
