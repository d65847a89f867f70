variable "name" {
  description = "Name prefix of the lake's resources, e.g. baton-dev"
  type        = string
}

variable "bucket_name" {
  description = "Bucket of the lake's data (globally unique), e.g. <deployment>-lake-<account id>"
  type        = string
}

variable "prefix" {
  description = "Key prefix of the lake's data in the bucket (DATA_PATH s3://<bucket>/<prefix>/)"
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.prefix))
    error_message = "prefix must be one folder name: lowercase letters, digits, - and _."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the objects"
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days a file DuckLake removed (ducklake_cleanup_old_files) or overwrote stays restorable as an old version"
  type        = number
  default     = 7
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with its data (throwaway environments only)"
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
