output "id" {
  description = "ID of the file system"
  value       = aws_efs_file_system.this.id
}

output "arn" {
  description = "ARN of the file system (task roles get ClientMount/ClientWrite on it)"
  value       = aws_efs_file_system.this.arn
}

output "access_point_ids" {
  description = "Access point name -> ID"
  value       = { for k, a in aws_efs_access_point.this : k => a.id }
}

output "access_point_arns" {
  description = "Access point name -> ARN"
  value       = { for k, a in aws_efs_access_point.this : k => a.arn }
}

output "security_group_id" {
  description = "Security group of the mount targets"
  value       = module.security_group.id
}
