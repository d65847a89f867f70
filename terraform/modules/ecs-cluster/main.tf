resource "aws_service_discovery_http_namespace" "this" {
  count = var.enable_service_connect ? 1 : 0

  name        = var.name
  description = "Service Connect names of ${var.name}"

  tags = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  dynamic "service_connect_defaults" {
    for_each = var.enable_service_connect ? [1] : []
    content {
      namespace = aws_service_discovery_http_namespace.this[0].arn
    }
  }

  tags = var.tags
}

# FARGATE for the Airflow services, FARGATE_SPOT for job tasks (they retry when reclaimed).
resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = var.default_capacity_provider
    weight            = 1
  }
}
