# ECS on Fargate: a cluster, the serving task definition and service (N stateless replicas
# behind the ALB), and a one-off migration task definition (`signpost migrate`).

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  tags = local.tags
}

# ---------------------------------------------------------------------------------------------
# Serving: `signpost serve` (the image's ENTRYPOINT is `signpost`).

resource "aws_ecs_task_definition" "serve" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = var.image
      essential = true
      command   = ["serve"]

      portMappings = [
        {
          name          = "http"
          containerPort = var.container_port
          hostPort      = var.container_port
          protocol      = "tcp"
        },
      ]

      environment = local.environment
      secrets     = local.secrets

      # serve stops gracefully on SIGTERM, giving in-flight requests 10 s.
      stopTimeout = 30

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "serve"
        }
      }
    },
  ])

  tags = local.tags
}

resource "aws_ecs_service" "this" {
  name             = var.name
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.serve.arn
  desired_count    = var.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # Rolling deployments that never go below the current capacity, and roll back on their own
  # when the new tasks do not become healthy.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  health_check_grace_period_seconds = var.health_check_grace_period_seconds
  enable_execute_command            = var.enable_execute_command
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"
  wait_for_steady_state             = var.wait_for_steady_state

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = var.container_port
  }

  lifecycle {
    # Autoscaling owns the number of replicas once the service exists.
    ignore_changes = [desired_count]
  }

  # The target group must be attached to a listener, and the secrets and permissions must
  # exist, before the first task starts.
  depends_on = [
    aws_lb_listener.https,
    aws_iam_role_policy.execution,
    aws_iam_role_policy.task,
    aws_secretsmanager_secret_version.jwt,
    aws_secretsmanager_secret_version.database_url,
    aws_secretsmanager_secret_version.redis_url,
  ]

  tags = local.tags
}

# ---------------------------------------------------------------------------------------------
# Migration: `signpost migrate`, run once per release before the service is moved to it (see
# infra/README.md and the migrate_run_task_command output). It needs only the database URL.
# It uses the tasks' security group and subnets, and the execution role; it needs no task role.

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = local.migrate_image
      essential = true
      command   = ["migrate"]

      environment = [
        { name = "RUST_LOG", value = var.log_level },
        { name = "SIGNPOST_LOG_FORMAT", value = "json" },
      ]
      secrets = [
        { name = "SIGNPOST_DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
      ]

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "migrate"
        }
      }
    },
  ])

  tags = local.tags
}
