output "address" {
  description = "Host name of the instance"
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance"
  value       = aws_db_instance.this.port
}

output "arn" {
  description = "ARN of the instance"
  value       = aws_db_instance.this.arn
}

output "security_group_id" {
  description = "Security group of the instance"
  value       = module.security_group.id
}

output "master_user_secret_arn" {
  description = "Secret holding the master user as JSON {username, password} (RDS-managed, or this module's)"
  value       = var.manage_master_user_password ? aws_db_instance.this.master_user_secret[0].secret_arn : aws_secretsmanager_secret.master[0].arn
}
