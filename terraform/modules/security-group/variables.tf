variable "group" {
  description = "The security group: { name, description, vpc_id } (a new description replaces the group)"
  type = object({
    name        = string
    description = string
    vpc_id      = string
  })
}

variable "rules" {
  description = "Its rules: { ingress, egress }, each rule name -> { description, from_port, to_port (null: from_port), ip_protocol (tcp), cidr_ipv4 or referenced_security_group_id (\"self\": this group) }"
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
  description = "Tags of the security group"
  type        = map(string)
  default     = {}
}
