variable "name" {
  description = "Name prefix of the network's resources"
  type        = string
}

variable "cidr" {
  description = "CIDR block of the VPC"
  type        = string
  default     = "10.40.0.0/16"
}

variable "azs" {
  description = "Availability zones to spread subnets over (two or more: RDS and the ALB need two)"
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2
    error_message = "azs needs at least two availability zones (the ALB and the RDS subnet group require two)."
  }
}

variable "enable_nat_gateway" {
  description = "Give private subnets a route to the internet through NAT gateways (image pulls, source databases, AWS APIs without endpoints)"
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, one zone's outage cuts egress) instead of one per zone"
  type        = bool
  default     = false
}

variable "enable_s3_endpoint" {
  description = "S3 gateway endpoint on the private route tables (free; image layers and the DAG bundle bypass NAT)"
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints in the private subnets, e.g. [\"ecr.api\", \"ecr.dkr\", \"logs\", \"secretsmanager\", \"ecs\", \"sts\"]; each costs per hour and zone"
  type        = list(string)
  default     = []
}

variable "enable_flow_log" {
  description = "Record the VPC's rejected and accepted traffic to CloudWatch Logs"
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the flow log is kept"
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow log group"
  type        = string
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
