# Security groups. Traffic flows ALB -> tasks -> (RDS, ElastiCache); each group admits only its
# caller on its one port. A security group made by Terraform starts without AWS's default
# allow-all egress rule, so the RDS and ElastiCache groups allow no egress at all.

# ---------------------------------------------------------------------------------------------
# Load balancer: 443 and 80 from the allowed ranges; out only to the tasks' port.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Signpost load balancer (${var.name})"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.allowed_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from allowed ranges"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.allowed_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from allowed ranges (phone paths or redirect to HTTPS)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the Signpost tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  tags                         = local.tags
}

# ---------------------------------------------------------------------------------------------
# Tasks (serving and migration): in from the ALB only; out to PostgreSQL, Redis and HTTPS
# (ECR, Secrets Manager, CloudWatch Logs and S3, through a NAT gateway or VPC endpoints).

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Signpost ECS tasks (${var.name})"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-tasks" })
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "From the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch Logs, S3)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_db" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "To PostgreSQL"
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = local.db_port_number
  to_port                      = local.db_port_number
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_redis" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "To Redis"
  referenced_security_group_id = aws_security_group.redis.id
  ip_protocol                  = "tcp"
  from_port                    = local.redis_port_number
  to_port                      = local.redis_port_number
  tags                         = local.tags
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis: in from the tasks only.

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "Signpost PostgreSQL (${var.name})"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-db" })
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the Signpost tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = local.db_port_number
  to_port                      = local.db_port_number
  tags                         = local.tags
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Signpost Redis (${var.name})"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-redis" })
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the Signpost tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = local.redis_port_number
  to_port                      = local.redis_port_number
  tags                         = local.tags
}
