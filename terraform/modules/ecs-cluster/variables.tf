variable "name" {
  description = "Name of the cluster"
  type        = string
}

variable "enable_service_connect" {
  description = "Create a Cloud Map namespace and make it the cluster's Service Connect default (tasks reach the api-server as http://api-server:<port>)"
  type        = bool
  default     = true
}

variable "default_capacity_provider" {
  description = "Capacity provider of services and tasks that name none"
  type        = string
  default     = "FARGATE"
}

variable "container_insights" {
  description = "Container Insights: enabled, enhanced or disabled"
  type        = string
  default     = "enabled"
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
