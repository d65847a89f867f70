# Each module's security group and rules now come from its call of modules/security-group: these
# moves keep a deployment applied before that change on the same groups and rules (its plan
# moves them, destroys and recreates none). Delete this file once every deployment has applied it.

moved {
  from = module.alb.aws_security_group.this
  to   = module.alb.module.security_group.aws_security_group.this
}

moved {
  from = module.alb.aws_vpc_security_group_ingress_rule.this
  to   = module.alb.module.security_group.aws_vpc_security_group_ingress_rule.this
}

moved {
  from = module.alb.aws_vpc_security_group_egress_rule.this
  to   = module.alb.module.security_group.aws_vpc_security_group_egress_rule.this
}

moved {
  from = module.airflow.aws_security_group.this
  to   = module.airflow.module.security_group.aws_security_group.this
}

moved {
  from = module.airflow.aws_vpc_security_group_ingress_rule.this
  to   = module.airflow.module.security_group.aws_vpc_security_group_ingress_rule.this
}

moved {
  from = module.airflow.aws_vpc_security_group_egress_rule.this
  to   = module.airflow.module.security_group.aws_vpc_security_group_egress_rule.this
}

moved {
  from = module.jobs.aws_security_group.this
  to   = module.jobs.module.security_group.aws_security_group.this
}

moved {
  from = module.jobs.aws_vpc_security_group_egress_rule.this
  to   = module.jobs.module.security_group.aws_vpc_security_group_egress_rule.this
}

moved {
  from = module.rds.aws_security_group.this
  to   = module.rds.module.security_group.aws_security_group.this
}

moved {
  from = module.rds.aws_vpc_security_group_ingress_rule.this
  to   = module.rds.module.security_group.aws_vpc_security_group_ingress_rule.this
}

moved {
  from = module.efs[0].aws_security_group.this
  to   = module.efs[0].module.security_group.aws_security_group.this
}

moved {
  from = module.efs[0].aws_vpc_security_group_ingress_rule.this
  to   = module.efs[0].module.security_group.aws_vpc_security_group_ingress_rule.this
}
