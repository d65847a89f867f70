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
  description = "Bump to generate new values for every generated secret (JWT secret, Fernet key, passwords, database URLs); the api-server's init container re-passwords the roles on its next start"
  type        = number
  default     = 1
}

variable "passwords" {
  description = "Generated passwords (64 letters and digits): secret key -> description, e.g. the first admin's"
  type        = map(string)
  nullable    = false
  default     = {}
}

variable "database_urls" {
  description = "Generated database URLs, each with its own role's password: secret key -> { role, database, scheme (postgresql, postgresql+psycopg2, ...), description }; host and port from database_host/database_port, sslmode=require"
  type = map(object({
    role        = string
    database    = string
    scheme      = optional(string, "postgresql")
    description = string
  }))
  nullable = false
  default  = {}
}

variable "given_secrets" {
  description = "Secrets whose value the caller gives (given_values): secret key -> { description, version (bump to write a new value) }"
  type = map(object({
    description = string
    version     = optional(number, 1)
  }))
  nullable = false
  default  = {}
}

variable "given_values" {
  description = "Values of given_secrets by key: ephemeral, written through a write-only argument, never in the state"
  type        = map(string)
  ephemeral   = true
  sensitive   = true
  default     = {}
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
