# Who may talk to whom: every security group rule of the deployment, one object { ingress, egress }
# of typed maps per group. Each module passes its object to modules/security-group, which creates
# the group's rules with one for_each resource per direction.
# Job tasks accept nothing; only the load balancer faces clients.

locals {
  api_port = module.spec.api_port # BATON_AIRFLOW_PORT of settings.env
  https    = { description = "HTTPS: ECR, Secrets Manager, CloudWatch Logs, S3, ECS", from_port = 443, cidr_ipv4 = "0.0.0.0/0" }

  security_rules = {
    load_balancer = {
      ingress = merge(
        { for cidr in var.site.allowed_cidrs : "https ${cidr}" => { description = "HTTPS from ${cidr}", from_port = 443, cidr_ipv4 = cidr } },
        # port 80 only answers with a redirect to HTTPS
        { for cidr in var.site.allowed_cidrs : "http ${cidr}" => { description = "HTTP from ${cidr}, redirected to HTTPS", from_port = 80, cidr_ipv4 = cidr } },
      )
      egress = {
        api-server = { description = "To the api-server tasks", from_port = local.api_port, cidr_ipv4 = var.vpc_cidr }
      }
    }

    airflow = {
      ingress = {
        load-balancer = { description = "UI and API from the load balancer", from_port = local.api_port, referenced_security_group_id = module.alb.security_group_id }
        execution-api = { description = "Execution API from task processes (scheduler, triggerer, dag-processor)", from_port = local.api_port, referenced_security_group_id = "self" }
      }
      egress = {
        execution-api = { description = "To the api-server's execution API", from_port = local.api_port, referenced_security_group_id = "self" }
        https         = local.https
        postgres      = { description = "Postgres: the metadata database", from_port = 5432, cidr_ipv4 = var.vpc_cidr }
      }
    }

    jobs = {
      egress = merge(
        { https = merge(local.https, { description = "HTTPS: ECR, Secrets Manager, CloudWatch Logs, S3 (the lake)" }) },
        { for cidr in concat([var.vpc_cidr], var.network.source_cidrs) : "postgres ${cidr}" => { description = "Postgres in ${cidr}: Meltano's system database, the lake's catalog, source databases", from_port = 5432, cidr_ipv4 = cidr } },
        local.efs ? { nfs = { description = "NFS to the file sources' folders (and the files warehouse)", from_port = 2049, referenced_security_group_id = module.efs[0].security_group_id } } : {},
      )
    }

    database = {
      ingress = {
        airflow = { description = "Postgres from airflow", from_port = 5432, referenced_security_group_id = module.airflow.security_group_id }
        jobs    = { description = "Postgres from jobs", from_port = 5432, referenced_security_group_id = module.jobs.security_group_id }
      }
    }

    efs = {
      ingress = {
        jobs = { description = "NFS from jobs", from_port = 2049, referenced_security_group_id = module.jobs.security_group_id }
      }
    }
  }
}
