variable "name" {
  description = "Name of the file system and prefix of its companions"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the mount targets"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets that get a mount target (one per zone)"
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the file system"
  type        = string
}

variable "access_points" {
  description = "Access points: name -> directory, e.g. { warehouse = \"/warehouse\" }. Each is owned by the jobs image's user (uid/gid 1000); the deployment derives them from the sources' folders"
  type        = map(string)
}

variable "posix_uid" {
  description = "User (and group) ID files are written as: the jobs image's user `baton`"
  type        = number
  default     = 1000
}

variable "enable_backup" {
  description = "Daily AWS Backup of the warehouse. Keep true; false exists for AWS emulators without backup policies"
  type        = bool
  default     = true
}

variable "enable_file_system_policy" {
  description = "File system policy: TLS only, mounts only through an access point. Keep true; false exists for AWS emulators without it"
  type        = bool
  default     = true
}

variable "security_group_rules" {
  description = "Rules of the mount targets' security group (modules/security-group): { ingress, egress }, each rule name -> { description, from_port, to_port (null: from_port), ip_protocol (tcp), cidr_ipv4 or referenced_security_group_id (\"self\": this group) }"
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
