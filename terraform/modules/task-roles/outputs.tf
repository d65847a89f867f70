output "task_role_arn" {
  description = "ARN of the task role"
  value       = aws_iam_role.this.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role"
  value       = aws_iam_role.execution.arn
}
