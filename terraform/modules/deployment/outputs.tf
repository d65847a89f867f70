output "runner_environment" {
  description = "Settings of the ecs runner (BATON_RUNNER=ecs, BATON_ECS_*): every Airflow container has them; tests and tools read them here"
  value       = module.spec.runner_environment
}

output "cluster_name" {
  description = "ECS cluster"
  value       = module.cluster.name
}

output "service_names" {
  description = "ECS service of each Airflow component"
  value       = module.airflow.service_names
}

output "jobs_task_definition" {
  description = "Family of the job task definition"
  value       = module.jobs.task_definition_family
}

output "jobs_task_definition_arn" {
  description = "Current revision of the job task definition"
  value       = module.jobs.task_definition_arn
}

output "private_subnet_ids" {
  description = "Private subnets of tasks, RDS and EFS"
  value       = module.network.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnets (load balancer, NAT only)"
  value       = module.network.public_subnet_ids
}

output "jobs_security_group_id" {
  description = "Security group of job tasks"
  value       = module.jobs.security_group_id
}

output "jobs_log_group" {
  description = "Log group of job output"
  value       = module.jobs.log_group_name
}

output "airflow_log_group" {
  description = "Log group of the Airflow components"
  value       = module.airflow.log_group_name
}

output "repository_urls" {
  description = "Image -> ECR repository URL (make deploy pushes <url>:<git commit>)"
  value       = module.ecr.repository_urls
}

output "dag_bucket" {
  description = "S3 bucket of the DAG bundle (make sync-dags uploads dags/ to s3://<bucket>/dags/)"
  value       = module.dag_bucket.name
}

output "dag_prefix" {
  description = "Key prefix of the DAG bundle"
  value       = module.spec.dag_prefix
}

output "ui_url" {
  description = "URL of the Airflow UI"
  value       = module.spec.airflow_environment["AIRFLOW__API__BASE_URL"]
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer (alias the UI's host name to it)"
  value       = module.alb.dns_name
}

output "database_address" {
  description = "Host of the metadata database"
  value       = module.rds.address
}

output "secret_arns" {
  description = "Secret key -> ARN"
  value       = module.secrets.arns
}

output "external_secret_names" {
  description = "Secrets to fill in after the first apply (aws secretsmanager put-secret-value)"
  value       = module.secrets.external_secret_names
}

output "image_tag" {
  description = "Image tag the services and job task definition run"
  value       = var.image_tag
}
