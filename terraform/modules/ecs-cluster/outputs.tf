output "name" {
  description = "Name of the cluster (BATON_ECS_CLUSTER)"
  value       = aws_ecs_cluster.this.name
}

output "arn" {
  description = "ARN of the cluster"
  value       = aws_ecs_cluster.this.arn
}

output "service_connect_namespace_arn" {
  description = "Cloud Map namespace of Service Connect (null when disabled)"
  value       = var.enable_service_connect ? aws_service_discovery_http_namespace.this[0].arn : null
}

output "capacity_providers" {
  description = "Capacity providers the cluster offers"
  value       = aws_ecs_cluster_capacity_providers.this.capacity_providers
}
