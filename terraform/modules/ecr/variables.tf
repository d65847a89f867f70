variable "name" {
  description = "Name prefix of the repositories: <name>/<image>"
  type        = string
}

variable "images" {
  description = "Images that get a repository each, e.g. [\"airflow\", \"jobs\"]"
  type        = set(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images at rest"
  type        = string
}

variable "keep_images" {
  description = "How many images each repository keeps; older ones expire"
  type        = number
  default     = 30
}

variable "force_delete" {
  description = "Let `terraform destroy` delete repositories that still hold images (throwaway environments)"
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
