variable "name" {
  description = "Bucket name (globally unique), e.g. <deployment>-dags-<account id>"
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the objects"
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days replaced or deleted objects are kept as old versions (to restore a bad DAG sync or a deleted lake file)"
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with its objects (throwaway environments)"
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
