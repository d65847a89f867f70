module "security_group" {
  #checkov:skip=CKV_AWS_260:port 80 is open only to answer with a redirect to HTTPS (the listener below); no content is served over HTTP
  source = "../security-group"

  group = { name = "${var.name}-alb", description = "HTTPS (and HTTP, redirected) to the Airflow UI", vpc_id = var.vpc_id }
  rules = var.security_group_rules
  tags  = var.tags
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:deletion_protection defaults to true and prod keeps it; envs/dev turns it off so the environment can be destroyed and recreated
  #checkov:skip=CKV2_AWS_28:no WAF by default (about 10 USD a month plus requests): the UI requires a login and allowed_cidrs narrows who reaches it; attach a web ACL where the UI faces the internet at large
  name                       = var.name
  internal                   = var.internal
  load_balancer_type         = "application"
  security_groups            = [module.security_group.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = var.idle_timeout

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == "" ? [] : [1]
    content {
      bucket  = var.access_logs_bucket
      prefix  = var.name
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  name                 = var.name
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "this" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}
