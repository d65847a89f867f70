locals {
  generated = merge(
    {
      "jwt-secret"     = "Airflow [api_auth] jwt_secret: signs the tokens between the api-server and task processes (every component needs the same)"
      "fernet-key"     = "Airflow [core] fernet_key: encrypts connections and variables in the metadata database"
      "api-secret-key" = "Airflow [api] secret_key: signs UI sessions (every api-server needs the same)"
    },
    var.passwords,
    { for k, u in var.database_urls : k => u.description },
  )
  all = merge(local.generated, { for k, s in var.given_secrets : k => s.description }, var.external_secrets)

  # Values exist only during plan/apply (ephemeral) and reach AWS through write-only arguments:
  # none is stored in the Terraform state.
  password   = { for k, p in ephemeral.aws_secretsmanager_random_password.this : k => p.random_password }
  fernet_key = replace(replace(base64encode(substr(local.password["fernet-key"], 0, 32)), "+", "-"), "/", "_")
  values = merge(
    local.password,
    { "fernet-key" = local.fernet_key },
    { for k, u in var.database_urls : k => "${u.scheme}://${u.role}:${local.password[k]}@${var.database_host}:${var.database_port}/${u.database}?sslmode=require" },
  )
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

# Values Terraform is given but never stores (an OIDC client secret: an ephemeral variable).
resource "aws_secretsmanager_secret_version" "given" {
  for_each = var.given_secrets

  secret_id                = aws_secretsmanager_secret.this[each.key].id
  secret_string_wo         = var.given_values[each.key]
  secret_string_wo_version = each.value.version
}
