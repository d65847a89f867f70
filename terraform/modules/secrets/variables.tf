variable "name" {
  description = "Prefix of the secrets' names: <name>/<secret>"
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the secrets"
  type        = string
}

variable "database_host" {
  description = "Postgres host the database URLs point at"
  type        = string
}

variable "database_port" {
  description = "Postgres port the database URLs point at"
  type        = number
  default     = 5432
}

variable "generation" {
  description = "Bump to generate new values for every generated secret (JWT secret, Fernet key, database passwords); the api-server's init container re-passwords the roles on its next start"
  type        = number
  default     = 1
}

variable "external_secrets" {
  description = "Secrets whose values come from outside (e.g. the source databases' URLs): key -> description. Created empty; set with `aws secretsmanager put-secret-value`"
  type        = map(string)
  default     = {}
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 deletes at once, so the environment can be recreated under the same names)"
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
