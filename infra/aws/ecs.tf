# infra/aws/ecs.tf - the image repository, the cluster, the consumer's task
# definition and its service.

resource "aws_ecr_repository" "consumer" {
  count = var.create_ecr_repository ? 1 : 0

  name                 = var.name
  image_tag_mutability = "MUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_cloudwatch_log_group" "consumer" {
  name              = "/ecs/${var.name}/consumer"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Container Insights publishes RunningTaskCount, the divisor of the
  # backlog-per-task scaling metric (autoscaling.tf).
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = local.capacity_provider
    weight            = 1
  }
}

locals {
  image             = var.image != "" ? var.image : "${one(aws_ecr_repository.consumer[*].repository_url)}:${var.image_tag}"
  capacity_provider = var.use_fargate_spot ? "FARGATE_SPOT" : "FARGATE"

  # ECS sends SIGTERM, waits stopTimeout, then SIGKILL. The consumer finishes
  # its runs within shutdown_timeout; its watchdog ends a shutdown that hangs
  # 15 s past that. 20 s on top leaves room for both (at most 120 on Fargate).
  stop_timeout = var.shutdown_timeout + 20

  consumer_environment = merge(
    {
      AWS_REGION            = var.region
      TASKFLEET_TABLE       = aws_dynamodb_table.tasks.name
      TASKFLEET_QUEUE_URL   = aws_sqs_queue.tasks["normal"].url
      TASKFLEET_CONCURRENCY = tostring(var.concurrency)
      TASKFLEET_LOG         = var.log_level
      TASKFLEET_RUNNERS     = "/usr/local/lib/taskfleet/runners"
    },
    var.isolate != "" ? { TASKFLEET_ISOLATE = var.isolate } : {},
    var.run_timeout != "" ? { TASKFLEET_RUN_TIMEOUT = var.run_timeout } : {},
    var.http_allow != "" ? { TASKFLEET_HTTP_ALLOW = var.http_allow } : {},
    var.http_targets != "" ? { TASKFLEET_HTTP_TARGETS = var.http_targets } : {},
    var.environment,
  )

  consumer_command = [
    "--visibility-timeout", tostring(var.visibility_timeout_seconds),
    "--shutdown-timeout", tostring(var.shutdown_timeout),
    "--metrics-listen", "0.0.0.0:${var.metrics_port}",
  ]
}

resource "aws_ecs_task_definition" "consumer" {
  family                   = "${var.name}-consumer"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root file system is read-only; /tmp is a scratch volume.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name        = "consumer"
      image       = local.image
      essential   = true
      command     = local.consumer_command
      stopTimeout = local.stop_timeout
      environment = [for k in sort(keys(local.consumer_environment)) : { name = k, value = local.consumer_environment[k] }]
      secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]

      portMappings = [
        { containerPort = var.metrics_port, protocol = "tcp", name = "metrics" },
      ]

      # /healthz of --metrics-listen, through the image's small bash client
      # (infra/docker/healthcheck): ECS replaces a task that fails it 3 times.
      healthCheck = {
        command     = ["CMD", "/usr/local/bin/taskfleet-healthcheck", "127.0.0.1:${var.metrics_port}"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }

      readonlyRootFilesystem = true
      mountPoints = [
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.consumer.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "consumer"
          # Never block the consumer on CloudWatch Logs.
          mode            = "non-blocking"
          max-buffer-size = "25m"
        }
      }
    },
  ])

  lifecycle {
    precondition {
      condition     = var.image != "" || var.create_ecr_repository
      error_message = "Set image, or leave create_ecr_repository on so the image comes from the repository it creates."
    }
  }
}

resource "aws_ecs_service" "consumer" {
  name                               = "${var.name}-consumer"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.consumer.arn
  desired_count                      = var.min_capacity
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = local.capacity_provider
    weight            = 1
  }

  network_configuration {
    subnets          = local.subnet_ids
    security_groups  = [aws_security_group.consumer.id]
    assign_public_ip = local.assign_public_ip
  }

  # A deployment whose tasks never turn healthy is rolled back.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The task role must carry its policy before the first consumer starts.
  depends_on = [
    aws_iam_role_policy_attachment.task_consumer,
    aws_iam_role_policy_attachment.execution,
    aws_ecs_cluster_capacity_providers.this,
  ]

  lifecycle {
    # Autoscaling owns the count after creation.
    ignore_changes = [desired_count]
  }
}
