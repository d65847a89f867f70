output "runner_environment" {
  description = "Settings of the ecs runner (BATON_RUNNER=ecs, BATON_ECS_*), as the Airflow containers get them"
  value       = module.baton.runner_environment
}

output "cluster_name" {
  description = "ECS cluster"
  value       = module.baton.cluster_name
}

output "service_names" {
  description = "ECS service of each Airflow component"
  value       = module.baton.service_names
}

output "jobs_task_definition" {
  description = "Family of the job task definition"
  value       = module.baton.jobs_task_definition
}

output "jobs_task_definition_arn" {
  description = "Current revision of the job task definition"
  value       = module.baton.jobs_task_definition_arn
}

output "private_subnet_ids" {
  description = "Private subnets of tasks, RDS and EFS"
  value       = module.baton.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnets (load balancer, NAT only)"
  value       = module.baton.public_subnet_ids
}

output "airflow_network_configuration" {
  description = "The Airflow tasks' network as aws ecs run-task --network-configuration takes it: for one-off admin tasks (adding users)"
  value       = module.baton.airflow_network_configuration
}

output "jobs_security_group_id" {
  description = "Security group of job tasks"
  value       = module.baton.jobs_security_group_id
}

output "jobs_log_group" {
  description = "Log group of job output"
  value       = module.baton.jobs_log_group
}

output "airflow_log_group" {
  description = "Log group of the Airflow components"
  value       = module.baton.airflow_log_group
}

output "repository_urls" {
  description = "Image -> ECR repository URL"
  value       = module.baton.repository_urls
}

output "dag_bucket" {
  description = "S3 bucket of the DAG bundle"
  value       = module.baton.dag_bucket
}

output "dag_prefix" {
  description = "Key prefix of the DAG bundle"
  value       = module.baton.dag_prefix
}

output "ui_url" {
  description = "URL of the Airflow UI"
  value       = module.baton.ui_url
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer"
  value       = module.baton.load_balancer_dns_name
}

output "secret_arns" {
  description = "Secret key -> ARN"
  value       = module.baton.secret_arns
}

output "external_secret_names" {
  description = "Secrets to fill in after the first apply"
  value       = module.baton.external_secret_names
}

output "image_tag" {
  description = "Image tag the deployment runs"
  value       = module.baton.image_tag
}

output "region" {
  description = "AWS region of the deployment"
  value       = var.region
}

output "database_address" {
  description = "Host of the metadata database"
  value       = module.baton.database_address
}

output "warehouse" {
  description = "The warehouse: lake or files"
  value       = module.baton.warehouse
}

output "lake" {
  description = "The lake: bucket, data_path, catalog { database, host, port }, reader_role, reader_secret_arn (read-only catalog URL), read_only_policy_arn (S3 read-only policy); null in files mode"
  value       = module.baton.lake
}

output "access" {
  description = "Sign-in: admin_user, admin_password_secret_arn, automation_user, automation_password_secret_arn, oidc_issuer"
  value       = module.baton.access
}

output "efs_file_system_id" {
  description = "File system of the file sources' folders; null when the deployment has none"
  value       = module.baton.efs_file_system_id
}
