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
