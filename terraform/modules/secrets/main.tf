locals {
  generated = {
    "jwt-secret"     = "Airflow [api_auth] jwt_secret: signs the tokens between the api-server and task processes (every component needs the same)"
    "fernet-key"     = "Airflow [core] fernet_key: encrypts connections and variables in the metadata database"
    "api-secret-key" = "Airflow [api] secret_key: signs UI sessions (every api-server needs the same)"
    "airflow-db-url" = "Airflow's metadata database URL (role and database airflow)"
    "meltano-db-url" = "Meltano's system database URL (role and database meltano): state of every source"
  }
  all = merge(local.generated, var.external_secrets)

  # Values exist only during plan/apply (ephemeral) and reach AWS through write-only arguments:
  # none is stored in the Terraform state.
  fernet_key = replace(replace(base64encode(substr(ephemeral.aws_secretsmanager_random_password.this["fernet-key"].random_password, 0, 32)), "+", "-"), "/", "_")
  values = {
    "jwt-secret"     = ephemeral.aws_secretsmanager_random_password.this["jwt-secret"].random_password
    "fernet-key"     = local.fernet_key
    "api-secret-key" = ephemeral.aws_secretsmanager_random_password.this["api-secret-key"].random_password
    "airflow-db-url" = "postgresql+psycopg2://airflow:${ephemeral.aws_secretsmanager_random_password.this["airflow-db-url"].random_password}@${var.database_host}:${var.database_port}/airflow?sslmode=require"
    "meltano-db-url" = "postgresql+psycopg://meltano:${ephemeral.aws_secretsmanager_random_password.this["meltano-db-url"].random_password}@${var.database_host}:${var.database_port}/meltano?sslmode=require"
  }
}

# Letters and digits only: the values go into URLs and a Fernet key unescaped.
ephemeral "aws_secretsmanager_random_password" "this" {
  for_each = local.generated

  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:no rotation Lambda: rotating the JWT secret and Fernet key needs every component restarted together, so it is a deploy step (bump `generation`)
  for_each = local.all

  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  for_each = local.generated

  secret_id                = aws_secretsmanager_secret.this[each.key].id
  secret_string_wo         = local.values[each.key]
  secret_string_wo_version = var.generation
}
