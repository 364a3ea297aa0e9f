# infra/aws/api.tf - `taskfleet serve` (the REST API and console) on ECS
# Fargate behind an application load balancer: HTTPS with the certificate
# api_certificate_arn (HTTP redirects to it), the target group's health check
# on /readyz (the table and the queue answer), scaling on requests per task
# and on CPU, and a task role allowed exactly the calls serve makes (the
# tests derive them from the C sources and compare). The same image as the
# consumer (infra/docker), started as `taskfleet serve`. Everything here
# exists only when api_certificate_arn is set.
#
# The API keys' hashes come from Secrets Manager (api_keys_secret_arn) or
# SSM (api_keys_parameter_name), read by serve itself at start and every
# api_keys_refresh, so a rotation needs no deployment. /metrics is on the
# task's metrics_port, never behind the load balancer.

locals {
  api_count = var.api_certificate_arn != "" ? 1 : 0

  api_keys_parameter_arn = var.api_keys_parameter_name != "" ? "arn:${data.aws_partition.current.partition}:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter/${trimprefix(var.api_keys_parameter_name, "/")}" : ""

  api_environment = merge(
    {
      AWS_REGION                   = var.region
      TASKFLEET_TABLE              = aws_dynamodb_table.tasks.name
      TASKFLEET_QUEUE_URL          = aws_sqs_queue.tasks["normal"].url
      TASKFLEET_LOG                = var.log_level
      TASKFLEET_RUNNERS            = "/usr/local/lib/taskfleet/runners"
      TASKFLEET_API_KEYS_REFRESH   = var.api_keys_refresh
      TASKFLEET_API_METRICS_LISTEN = "0.0.0.0:${var.metrics_port}"
    },
    var.api_keys_secret_arn != "" ? { TASKFLEET_API_KEYS_SECRET = var.api_keys_secret_arn } : {},
    var.api_keys_parameter_name != "" ? { TASKFLEET_API_KEYS_PARAMETER = var.api_keys_parameter_name } : {},
    var.api_environment,
  )

  api_command = ["serve", "--listen", "0.0.0.0:${var.api_port}"]
}

# --- IAM: exactly what serve calls --------------------------------------------

data "aws_iam_policy_document" "api" {
  statement {
    sid = "TaskItems"
    actions = [
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.tasks.arn]
  }

  # Listing by namespace (and clearing one: BatchWriteItem above); the due
  # tasks' dry run across namespaces reads by_due.
  statement {
    sid       = "Indexes"
    actions   = ["dynamodb:Query"]
    resources = [local.table_index_arns["by_ns"], local.table_index_arns["by_due"]]
  }

  # POST /v1/tasks, run-now and the dead-letter redrive send to the task
  # queues (one per priority); /readyz and /v1/stats read depths.
  statement {
    sid = "Queues"
    actions = [
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]
    resources = concat(local.task_queue_arns, [aws_sqs_queue.dlq.arn])
  }

  # GET /v1/dlq and POST /v1/dlq/redrive: receive and hold the dead-letter
  # queue's messages, make them visible again, delete the ones moved.
  statement {
    sid = "DeadLetterQueue"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # The API keys' source: one of the two (a precondition below says so).
  statement {
    sid       = "ApiKeys"
    actions   = ["secretsmanager:GetSecretValue", "ssm:GetParameter"]
    resources = compact([var.api_keys_secret_arn, local.api_keys_parameter_arn])
  }
}

resource "aws_iam_policy" "api" {
  count = local.api_count

  name        = "${var.name}-api"
  description = "taskfleet serve: its calls on the ${var.table_name} table, its queues and its API keys"
  policy      = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role" "api_task" {
  count = local.api_count

  name               = "${var.name}-api-task"
  description        = "Credentials of taskfleet serve on ECS"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "api_task" {
  count = local.api_count

  role       = aws_iam_role.api_task[0].name
  policy_arn = aws_iam_policy.api[0].arn
}

# --- network --------------------------------------------------------------------

resource "aws_security_group" "api_lb" {
  count = local.api_count

  name_prefix = "${var.name}-api-lb-"
  description = "taskfleet API load balancer: HTTPS (and HTTP to redirect) from api_ingress_cidrs"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "api_lb" {
  for_each = local.api_count == 1 ? toset(flatten([for c in var.api_ingress_cidrs : ["${c} 443", "${c} 80"]])) : toset([])

  security_group_id = aws_security_group.api_lb[0].id
  description       = "clients of the API"
  ip_protocol       = "tcp"
  from_port         = tonumber(split(" ", each.value)[1])
  to_port           = tonumber(split(" ", each.value)[1])
  cidr_ipv4         = split(" ", each.value)[0]
}

resource "aws_vpc_security_group_egress_rule" "api_lb" {
  count = local.api_count

  security_group_id            = aws_security_group.api_lb[0].id
  description                  = "to the serve tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.api[0].id
}

resource "aws_security_group" "api" {
  count = local.api_count

  name_prefix = "${var.name}-api-"
  description = "taskfleet serve tasks: the API port from the load balancer only, metrics from metrics_ingress_cidrs"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "api_from_lb" {
  count = local.api_count

  security_group_id            = aws_security_group.api[0].id
  description                  = "the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.api_lb[0].id
}

resource "aws_vpc_security_group_ingress_rule" "api_metrics" {
  for_each = local.api_count == 1 ? toset(var.metrics_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.api[0].id
  description       = "Prometheus scrape of serve's /metrics"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}

# AWS APIs over HTTPS.
resource "aws_vpc_security_group_egress_rule" "api" {
  count = local.api_count

  security_group_id = aws_security_group.api[0].id
  description       = "AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- the load balancer ------------------------------------------------------------

resource "aws_lb" "api" {
  count = local.api_count

  name                       = "${var.name}-api"
  load_balancer_type         = "application"
  internal                   = var.api_internal
  subnets                    = local.subnet_ids
  security_groups            = [aws_security_group.api_lb[0].id]
  drop_invalid_header_fields = true
  # serve answers a request within its own limits; a client holding a
  # connection idle does not need more.
  idle_timeout = 60
}

resource "aws_lb_target_group" "api" {
  count = local.api_count

  name_prefix          = "tfapi-"
  port                 = var.api_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 30

  # /readyz: 200 when the table and the queue answer (cached 2 s by serve,
  # so the probes of several load balancer nodes cost few AWS calls).
  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "api_https" {
  count = local.api_count

  load_balancer_arn = aws_lb.api[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.api_ssl_policy
  certificate_arn   = var.api_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api[0].arn
  }
}

resource "aws_lb_listener" "api_http" {
  count = local.api_count

  load_balancer_arn = aws_lb.api[0].arn
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
}

# --- the service ------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "api" {
  count = local.api_count

  name              = "/ecs/${var.name}/api"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_task_definition" "api" {
  count = local.api_count

  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.api_task[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = "api"
      image     = local.image
      essential = true
      # The image's entry point is the consumer; serve is the CLI's.
      entryPoint  = ["/usr/bin/tini", "--", "/usr/local/bin/taskfleet"]
      command     = local.api_command
      # ECS takes a task out of the target group (deregistration_delay)
      # before SIGTERM, so serve needs no TASKFLEET_API_DRAIN here.
      stopTimeout = 30
      environment = [for k in sort(keys(local.api_environment)) : { name = k, value = local.api_environment[k] }]

      portMappings = [
        { containerPort = var.api_port, protocol = "tcp", name = "api" },
        { containerPort = var.metrics_port, protocol = "tcp", name = "metrics" },
      ]

      # /healthz of --metrics-listen, as the consumer's.
      healthCheck = {
        command     = ["CMD", "/usr/local/bin/taskfleet-healthcheck", "127.0.0.1:${var.metrics_port}"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }

      readonlyRootFilesystem = true

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.api[0].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "api"
          mode                  = "non-blocking"
          max-buffer-size       = "25m"
        }
      }
    },
  ])

  lifecycle {
    precondition {
      condition     = (var.api_keys_secret_arn != "") != (var.api_keys_parameter_name != "")
      error_message = "The API needs its keys: set exactly one of api_keys_secret_arn and api_keys_parameter_name."
    }
  }
}

resource "aws_ecs_service" "api" {
  count = local.api_count

  name                               = "${var.name}-api"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.api[0].arn
  desired_count                      = var.api_min_capacity
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = local.subnet_ids
    security_groups  = [aws_security_group.api[0].id]
    assign_public_ip = local.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api[0].arn
    container_name   = "api"
    container_port   = var.api_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [
    aws_iam_role_policy_attachment.api_task,
    aws_lb_listener.api_https,
  ]

  lifecycle {
    ignore_changes = [desired_count]
  }
}

# --- autoscaling: requests per task, and CPU ----------------------------------------

resource "aws_appautoscaling_target" "api" {
  count = local.api_count

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api[0].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api_min_capacity
  max_capacity       = var.api_max_capacity
}

resource "aws_appautoscaling_policy" "api_requests" {
  count = local.api_count

  name               = "${var.name}-api-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api[0].service_namespace
  resource_id        = aws_appautoscaling_target.api[0].resource_id
  scalable_dimension = aws_appautoscaling_target.api[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_requests_per_task_target
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api[0].arn_suffix}/${aws_lb_target_group.api[0].arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "api_cpu" {
  count = local.api_count

  name               = "${var.name}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api[0].service_namespace
  resource_id        = aws_appautoscaling_target.api[0].resource_id
  scalable_dimension = aws_appautoscaling_target.api[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_cpu_target
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
