variable "name" {
  description = "Name of the load balancer and prefix of its companions"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancer"
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets (internet-facing) or private ones (internal)"
  type        = list(string)
}

variable "internal" {
  description = "Reachable only inside the VPC (behind a VPN or a peering) instead of from the internet"
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener (the UI's host name)"
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener"
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "target_port" {
  description = "Port of the targets: the api-server's (BATON_AIRFLOW_PORT of settings.env, from the spec module)"
  type        = number
}

variable "health_check_path" {
  description = "Path the target group checks"
  type        = string
  default     = "/api/v2/monitor/health"
}

variable "access_logs_bucket" {
  description = "S3 bucket receiving the ALB's access logs (its policy must let the regional ELB account write); empty turns them off"
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (turn off explicitly before destroying)"
  type        = bool
  default     = true
}

variable "idle_timeout" {
  description = "Seconds an idle connection stays open (the UI streams logs)"
  type        = number
  default     = 120
}

variable "security_group_rules" {
  description = "Rules of the load balancer's security group (modules/security-group): { ingress, egress }, each rule name -> { description, from_port, to_port (null: from_port), ip_protocol (tcp), cidr_ipv4 or referenced_security_group_id (\"self\": this group) }"
  type = object({
    ingress = optional(map(object({
      description                  = string
      from_port                    = number
      to_port                      = optional(number)
      ip_protocol                  = optional(string, "tcp")
      cidr_ipv4                    = optional(string)
      referenced_security_group_id = optional(string)
    })), {})
    egress = optional(map(object({
      description                  = string
      from_port                    = number
      to_port                      = optional(number)
      ip_protocol                  = optional(string, "tcp")
      cidr_ipv4                    = optional(string)
      referenced_security_group_id = optional(string)
    })), {})
  })
  nullable = false
  default  = {}
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
