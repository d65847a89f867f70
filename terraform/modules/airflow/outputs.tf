output "service_names" {
  description = "ECS service name of each Airflow component"
  value       = { for k, s in aws_ecs_service.this : k => s.name }
}

output "task_definition_arns" {
  description = "Current task definition revision of each component"
  value       = { for k, t in aws_ecs_task_definition.this : k => t.arn }
}

output "security_group_id" {
  description = "Security group of the Airflow tasks"
  value       = module.security_group.id
}

output "task_role_arn" {
  description = "Task role of the Airflow components"
  value       = module.roles.task_role_arn
}

output "execution_role_arn" {
  description = "Execution role of the Airflow components"
  value       = module.roles.execution_role_arn
}

output "log_group_name" {
  description = "Log group of the components' output"
  value       = aws_cloudwatch_log_group.this.name
}

output "task_log_group_arn" {
  description = "Log group of Airflow task logs"
  value       = aws_cloudwatch_log_group.task_logs.arn
}
