output "names" {
  description = "Names shared by the modules: cluster, jobs_family, airflow_log_group, jobs_log_group, task_log_group"
  value       = local.names
}

output "services" {
  description = "Airflow components: name -> { family, container, cpu, memory, desired_count, port (null unless it listens), container_definitions }"
  value       = local.services
}

output "jobs" {
  description = "The job task definition: { family, container, cpu, memory, container_definitions }"
  value       = local.jobs

  precondition {
    condition     = alltrue([for env, arn in local.jobs_secrets : arn != ""])
    error_message = "every secret a source declares needs its ARN in secret_arns (keys: ${join(", ", [for s in values(local.source_secrets) : s.key])})."
  }
  precondition {
    condition     = alltrue([for env in keys(local.source_secrets) : can(regex("^[A-Z][A-Z0-9_]*$", env))])
    error_message = "a source's baton.secrets must name environment variables (A-Z, 0-9, _): ${join(", ", keys(local.source_secrets))}."
  }
  precondition {
    condition     = length(distinct([for s in values(local.source_secrets) : s.key])) == length(local.source_secrets)
    error_message = "two secret variables of the sources map to the same secret name: ${join(", ", keys(local.source_secrets))}."
  }
  precondition {
    condition     = alltrue([for folder in local.folders : can(regex("^[a-z0-9][a-z0-9_-]*$", folder)) && folder != var.warehouse_volume])
    error_message = "a source's baton.folders must name folders of lowercase letters, digits, - and _ other than ${var.warehouse_volume}: ${join(", ", local.folders)}."
  }
  precondition {
    condition     = length(local.folder_variables) == length(distinct(flatten([for f in values(local.source_folders) : [for env, folder in f : "${env}=${folder}"]])))
    error_message = "two sources declare the same folder variable with different folders."
  }
  precondition {
    condition     = !local.lake || (can(regex("^s3://[a-z0-9.-]+/.+/$", var.lake_data_path)) && contains(keys(var.jobs_secrets), local.lake_catalog_secret) && alltrue([for k in concat(local.init_databases, local.init_readers) : contains(keys(local.init_secrets), k)]))
    error_message = "warehouse = lake needs lake_data_path (s3://<bucket>/<prefix>/, got \"${var.lake_data_path}\"), ${local.lake_catalog_secret} in jobs_secrets and ${local.lake_catalog_secret}, ${local.lake_reader_secret} in init_secrets."
  }
}

output "jobs_secrets" {
  description = "Secrets of the jobs container: environment variable -> Secrets Manager ARN (the fixed ones and the sources')"
  value       = local.jobs_secrets
}

output "jobs_volumes" {
  description = "The job task's volumes, one EFS access point each: name -> { path (on the file system), container_path, read_only }. Each folder the sources declare is read-only; in files mode the warehouse is one more, writable. Empty: no EFS"
  value       = local.jobs_volumes
}

output "source_secrets" {
  description = "The secrets the sources declare: environment variable -> { key (the secret's name after <name>/), sources, description }"
  value       = local.source_secrets
}

output "settings" {
  description = "The kit's settings (settings.env) as a map"
  value       = local.settings
}

output "api_port" {
  description = "Port the api-server listens on (BATON_AIRFLOW_PORT): container port, load balancer target, Service Connect"
  value       = local.api_port
}

output "runner_environment" {
  description = "Settings of the ecs runner (BATON_RUNNER=ecs, BATON_ECS_*), as every Airflow container gets them"
  value       = local.runner_environment
}

output "airflow_environment" {
  description = "Plain environment of every Airflow container"
  value       = local.airflow_environment
}

output "execution_api_url" {
  description = "URL task processes reach the api-server's execution API at"
  value       = local.execution_api_url
}

output "dag_prefix" {
  description = "Key prefix of the DAG bundle in the DAG bucket"
  value       = var.dag_prefix
}
