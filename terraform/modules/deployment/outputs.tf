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

output "airflow_network_configuration" {
  description = "The Airflow tasks' network (private subnets, the Airflow security group) as aws ecs run-task --network-configuration takes it: for one-off admin tasks"
  value       = jsonencode({ awsvpcConfiguration = { subnets = module.network.private_subnet_ids, securityGroups = [module.airflow.security_group_id], assignPublicIp = "DISABLED" } })
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

output "warehouse" {
  description = "The warehouse: lake or files"
  value       = var.warehouse
}

output "lake" {
  description = "The lake (null in files mode): bucket, data_path (DATA_PATH), catalog (database, host, port), reader_role and reader_secret_arn (the read-only catalog role and the secret holding its URL), read_only_policy_arn (S3 read-only IAM policy for readers outside the stack)"
  value = local.lake ? {
    bucket               = module.lake[0].bucket
    data_path            = module.lake[0].data_path
    catalog              = { database = local.database_urls["lake-catalog-url"].database, host = module.rds.address, port = module.rds.port }
    reader_role          = local.database_urls["lake-reader-url"].role
    reader_secret_arn    = module.secrets.arns["lake-reader-url"]
    read_only_policy_arn = module.lake[0].read_only_policy_arn
  } : null
}

output "access" {
  description = "Sign-in: the first admin (admin_user, admin_password_secret_arn), the service account of automation (automation_user, role Op, automation_password_secret_arn), oidc_issuer (empty: local users only)"
  value = {
    admin_user                     = module.spec.settings["BATON_AIRFLOW_USER"]
    admin_password_secret_arn      = module.secrets.arns["airflow-admin-password"]
    automation_user                = local.automation_user
    automation_password_secret_arn = module.secrets.arns["automation-password"]
    oidc_issuer                    = var.oidc.issuer
  }
}

output "efs_file_system_id" {
  description = "The file system of the file sources' folders (and the files warehouse); null when the deployment has none"
  value       = local.efs ? module.efs[0].id : null
}
