variable "region" {
  description = "AWS region of the deployment"
  type        = string
  default     = "eu-central-1"
}

variable "environment" {
  description = "Environment name (part of every resource name)"
  type        = string
  default     = "dev"
}

variable "image_tag" {
  description = "Tag of the airflow and jobs images (make deploy sets the git commit)"
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the UI's host name"
  type        = string
}

variable "domain_name" {
  description = "Host name of the UI; empty uses the load balancer's DNS name"
  type        = string
  default     = ""
}

variable "allowed_cidrs" {
  description = "Client networks allowed to reach the UI"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "source_cidrs" {
  description = "Networks outside the VPC holding source databases"
  type        = list(string)
  default     = []
}

variable "aws_endpoint_url" {
  description = "One endpoint for every AWS service (an emulator such as moto); empty: the real AWS endpoints"
  type        = string
  default     = ""
}

# Emulator switches: tests/cloud turns these off because moto does not emulate them. The defaults
# are the real, secure setting: leave them alone for any deployment to AWS.
variable "manage_master_user_password" {
  description = "RDS generates and rotates the master password (keep true; false only for emulators)"
  type        = bool
  default     = true
}

variable "enable_service_connect" {
  description = "Service Connect for the execution API (keep true; false only for emulators)"
  type        = bool
  default     = true
}

variable "enable_efs_backup" {
  description = "Daily AWS Backup of the warehouse (keep true; false only for emulators)"
  type        = bool
  default     = true
}
