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

# tests/cloud applies this environment to moto, which lacks EFS backup and file system policies
# (their create or delete calls never finish there). emulator = true leaves out those two and
# nothing else. The default, false, is the secure setting: never set it for a deployment to AWS.
variable "emulator" {
  description = "Leave out what the AWS emulator (moto) cannot emulate: EFS backup and file system policies. Only for tests/cloud"
  type        = bool
  default     = false
}
