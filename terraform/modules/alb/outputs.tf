output "dns_name" {
  description = "DNS name of the load balancer (point the UI's host name at it)"
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Hosted zone of the load balancer (Route 53 alias records)"
  value       = aws_lb.this.zone_id
}

output "arn" {
  description = "ARN of the load balancer"
  value       = aws_lb.this.arn
}

output "target_group_arn" {
  description = "Target group the api-server service registers in"
  value       = aws_lb_target_group.this.arn
}

output "security_group_id" {
  description = "Security group of the load balancer"
  value       = module.security_group.id
}
