output "name" {
  description = "Name of the bucket (make sync-dags uploads to it)"
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "ARN of the bucket"
  value       = aws_s3_bucket.this.arn
}
