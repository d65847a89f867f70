# One security group and its rules: one for_each resource per direction (the provider has a
# resource type per direction) over the caller's typed maps. "self" in a rule names this group.
resource "aws_security_group" "this" {
  name        = var.group.name
  description = var.group.description
  vpc_id      = var.group.vpc_id

  tags = merge(var.tags, { Name = var.group.name })
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = var.rules.ingress

  security_group_id            = aws_security_group.this.id
  description                  = each.value.description
  ip_protocol                  = each.value.ip_protocol
  from_port                    = each.value.from_port
  to_port                      = coalesce(each.value.to_port, each.value.from_port)
  cidr_ipv4                    = each.value.cidr_ipv4
  referenced_security_group_id = each.value.referenced_security_group_id == "self" ? aws_security_group.this.id : each.value.referenced_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = var.rules.egress

  security_group_id            = aws_security_group.this.id
  description                  = each.value.description
  ip_protocol                  = each.value.ip_protocol
  from_port                    = each.value.from_port
  to_port                      = coalesce(each.value.to_port, each.value.from_port)
  cidr_ipv4                    = each.value.cidr_ipv4
  referenced_security_group_id = each.value.referenced_security_group_id == "self" ? aws_security_group.this.id : each.value.referenced_security_group_id
}
