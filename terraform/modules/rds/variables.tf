variable "name" {
  description = "Identifier of the instance and prefix of its companions"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the instance"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (two zones or more)"
  type        = list(string)
}

variable "engine_version" {
  description = "Postgres version; a major version lets RDS apply minor upgrades"
  type        = string
  default     = "16"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version"
  type        = string
  default     = "postgres16"
}

variable "instance_class" {
  description = "Instance class, e.g. db.t4g.micro (dev) or db.t4g.medium (prod)"
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage (GiB, gp3)"
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB)"
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Standby in a second zone (failover in about a minute)"
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage, snapshots, Performance Insights and the master user secret"
  type        = string
}

variable "master_username" {
  description = "Master user (used only to create the application roles and databases)"
  type        = string
  default     = "baton_admin"
}

variable "manage_master_user_password" {
  description = "Let RDS generate and rotate the master password in Secrets Manager. Keep true: false is for emulators that lack it, and stores a generated password in a secret of this module instead"
  type        = bool
  default     = true
}

variable "master_password_version" {
  description = "Bump to regenerate the master password when manage_master_user_password is false"
  type        = number
  default     = 1
}

variable "backup_retention_period" {
  description = "Days of automated backups (point-in-time recovery)"
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn off explicitly before destroying)"
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (throwaway environments only)"
  type        = bool
  default     = false
}

variable "enable_performance_insights" {
  description = "Performance Insights, encrypted with kms_key_arn (not offered on the smallest classes)"
  type        = bool
  default     = true
}

variable "monitoring_interval" {
  description = "Seconds between Enhanced Monitoring samples (0 turns it off)"
  type        = number
  default     = 60
}

variable "secret_recovery_window_in_days" {
  description = "Days a deleted master secret can be restored (0 deletes at once; only when manage_master_user_password is false)"
  type        = number
  default     = 30
}

variable "security_group_rules" {
  description = "Rules of the instance's security group (modules/security-group): { ingress, egress }, each rule name -> { description, from_port, to_port (null: from_port), ip_protocol (tcp), cidr_ipv4 or referenced_security_group_id (\"self\": this group) }"
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
