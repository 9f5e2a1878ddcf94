# Application Load Balancer: TLS ends here; the tasks get plain HTTP on container_port, with the
# client's address appended to X-Forwarded-For (believed because SIGNPOST_TRUSTED_PROXIES names
# the VPC range). Port 443 forwards everything; port 80 redirects to HTTPS, except the phone
# endpoints when allow_plain_http_phone_paths is true (see that variable).

resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = var.alb_internal
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]

  idle_timeout               = var.alb_idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  tags = local.tags
}

resource "aws_lb_target_group" "this" {
  name        = var.name
  target_type = "ip" # Fargate tasks (awsvpc)
  protocol    = "HTTP"
  port        = var.container_port
  vpc_id      = var.vpc_id

  deregistration_delay = var.deregistration_delay_seconds

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5 # /readyz answers within about 2 s even when a backend hangs
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

# ---------------------------------------------------------------------------------------------
# HTTPS

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = local.tags
}

resource "aws_lb_listener_certificate" "additional" {
  for_each = toset(var.additional_certificate_arns)

  listener_arn    = aws_lb_listener.https.arn
  certificate_arn = each.value
}

# ---------------------------------------------------------------------------------------------
# HTTP: redirect to HTTPS by default.

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = local.tags
}

# Never over plain HTTP, even when phone paths are: the REST API and XML-RPC (credentials and
# bearer tokens) and hosted files (the URL carries the phone's token, the files may carry SIP
# credentials). Matched before the phone paths, since "/*.htm" would also match
# /p/{tenant}/{token}/snomD785.htm and /v1/tenants/{tenant}/files/x.htm.
resource "aws_lb_listener_rule" "http_sensitive_paths_to_https" {
  count = var.allow_plain_http_phone_paths ? 1 : 0

  listener_arn = aws_lb_listener.http.arn
  priority     = 10

  action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  condition {
    path_pattern {
      values = ["/v1/*", "/xmlrpc", "/xmlrpc/*", "/p/*"]
    }
  }

  tags = local.tags
}

# The phone endpoints over plain HTTP: Snom's legacy redirect path /{type}/{type}.php?mac=...
# and the settings documents /{type}.htm and /{type}-{MAC}.htm. They carry only the setting
# server URL (and a profile's extra settings) and are rate limited per source address.
resource "aws_lb_listener_rule" "http_phone_paths" {
  count = var.allow_plain_http_phone_paths ? 1 : 0

  listener_arn = aws_lb_listener.http.arn
  priority     = 20

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    path_pattern {
      values = var.plain_http_phone_path_patterns
    }
  }

  tags = local.tags
}
