output "vpc_id" {
  description = "ID of the VPC"
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC"
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways only), in zone order"
  value       = [for az in var.azs : aws_subnet.public[az].id]
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, RDS, EFS), in zone order"
  value       = [for az in var.azs : aws_subnet.private[az].id]
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets"
  value       = [for az in var.azs : aws_route_table.private[az].id]
}

output "nat_public_ips" {
  description = "Public addresses private tasks reach the internet from (allow-list them at sources)"
  value       = [for eip in aws_eip.nat : eip.public_ip]
}
