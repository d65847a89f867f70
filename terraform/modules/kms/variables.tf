variable "name" {
  description = "Name of the deployment; the key's alias is alias/<name>"
  type        = string
}

variable "deletion_window_in_days" {
  description = "Days between scheduling the key's deletion and its deletion (7-30)"
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
