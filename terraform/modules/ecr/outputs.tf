output "repository_urls" {
  description = "Image name -> repository URL (push <url>:<tag>)"
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Image name -> repository ARN (execution roles may pull only these)"
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}
