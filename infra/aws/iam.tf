# infra/aws/iam.tf - who may do what.
#
# consumer: exactly the calls taskfleet-consumer makes (tests/scripts/infra_aws.py
# derives them from the C sources and compares), on exactly this table, its
# by_due index and the task queues (GetItem and GetQueueAttributes are also
# /readyz's probes). SQS's batch calls are authorised by their
# single-message actions (DeleteMessageBatch by sqs:DeleteMessage).
# producer: what the `taskfleet` CLI needs for everything but `init` (table,
# queues and their settings belong to Terraform here) and `serve` (its own
# policy and role are in api.tf); attach it to the people and CI that submit
# and manage tasks.

locals {
  table_index_arns = {
    for name in ["by_due", "by_ns"] : name => "${aws_dynamodb_table.tasks.arn}/index/${name}"
  }
}

data "aws_iam_policy_document" "consumer" {
  # PutItem: the sweep's lease items (docs/design.md section 6), kept in the
  # same table under ids no task can have.
  statement {
    sid       = "TaskItems"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.tasks.arn]
  }

  # The sweeper queries the sparse by_due index; an ordered flow key's run
  # asks by_ns whether an earlier task of its flow is still to run.
  statement {
    sid       = "Indexes"
    actions   = ["dynamodb:Query"]
    resources = [local.table_index_arns["by_due"], local.table_index_arns["by_ns"]]
  }

  statement {
    sid = "TaskQueue"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = local.task_queue_arns
  }
}

resource "aws_iam_policy" "consumer" {
  name        = "${var.name}-consumer"
  description = "taskfleet-consumer: its calls on the ${var.table_name} table and the ${var.queue_name} queue"
  policy      = data.aws_iam_policy_document.consumer.json
}

data "aws_iam_policy_document" "producer" {
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

  statement {
    sid       = "Indexes"
    actions   = ["dynamodb:Query"]
    resources = values(local.table_index_arns)
  }

  # submit and run-now send to the task queues; stats reads the depth; dlq
  # list and redrive receive from the dead-letter queue and send to the task
  # queues.
  statement {
    sid = "Queues"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = concat(local.task_queue_arns, [aws_sqs_queue.dlq.arn])
  }
}

resource "aws_iam_policy" "producer" {
  name        = "${var.name}-producer"
  description = "taskfleet CLI (all but init) on the ${var.table_name} table and its queues"
  policy      = data.aws_iam_policy_document.producer.json
}

# --- the AWS target runners (docs/targets.md) ------------------------------------
# What the sqs, sns, lambda, eventbridge and stepfunctions runners call
# (tests/scripts/infra_aws.py compares with lib/target), on exactly the
# targets the target_* variables list. A kind without ARNs gets no
# statement; with none at all there is no policy, so by default the
# consumers may call no target.

locals {
  any_target = length(concat(var.target_sqs_queue_arns, var.target_sns_topic_arns,
    var.target_lambda_function_arns, var.target_event_bus_arns,
  var.target_state_machine_arns, var.target_role_arns)) > 0
  # DescribeExecution acts on executions: arn:...:execution:MACHINE:NAME.
  target_execution_arns = [
    for arn in var.target_state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"
  ]
}

data "aws_iam_policy_document" "targets" {
  count = local.any_target ? 1 : 0

  # GetQueueUrl: a queue given by name is resolved once per run.
  dynamic "statement" {
    for_each = length(var.target_sqs_queue_arns) > 0 ? ["SqsTargets"] : []
    content {
      sid       = statement.value
      actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
      resources = var.target_sqs_queue_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.target_sns_topic_arns) > 0 ? ["SnsTargets"] : []
    content {
      sid       = statement.value
      actions   = ["sns:Publish"]
      resources = var.target_sns_topic_arns
    }
  }

  # The API's Invoke is authorised by lambda:InvokeFunction; ":*" covers the
  # qualifier param (a version or alias).
  dynamic "statement" {
    for_each = length(var.target_lambda_function_arns) > 0 ? ["LambdaTargets"] : []
    content {
      sid       = statement.value
      actions   = ["lambda:InvokeFunction"]
      resources = concat(var.target_lambda_function_arns, [for arn in var.target_lambda_function_arns : "${arn}:*"])
    }
  }

  dynamic "statement" {
    for_each = length(var.target_event_bus_arns) > 0 ? ["EventBridgeTargets"] : []
    content {
      sid       = statement.value
      actions   = ["events:PutEvents"]
      resources = var.target_event_bus_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.target_state_machine_arns) > 0 ? ["StepFunctionsTargets"] : []
    content {
      sid       = statement.value
      actions   = ["states:StartExecution"]
      resources = var.target_state_machine_arns
    }
  }

  # An ExecutionAlreadyExists answer is compared with the execution's input.
  dynamic "statement" {
    for_each = length(var.target_state_machine_arns) > 0 ? ["StepFunctionsExecutions"] : []
    content {
      sid       = statement.value
      actions   = ["states:DescribeExecution"]
      resources = local.target_execution_arns
    }
  }

  # A task's params.role_arn: the call is made with that role's credentials
  # (the role's own policy grants the call; its trust policy this role).
  dynamic "statement" {
    for_each = length(var.target_role_arns) > 0 ? ["TargetRoles"] : []
    content {
      sid       = statement.value
      actions   = ["sts:AssumeRole"]
      resources = var.target_role_arns
    }
  }
}

resource "aws_iam_policy" "targets" {
  count = local.any_target ? 1 : 0

  name        = "${var.name}-targets"
  description = "taskfleet AWS target runners: the queues, topics, functions, buses, state machines and roles of the target_* variables"
  policy      = data.aws_iam_policy_document.targets[0].json
}

# --- the ECS task role (the consumer's credentials) ---------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only ECS tasks of this account (no confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-consumer-task"
  description        = "Credentials of the taskfleet consumers on ECS"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "task_consumer" {
  role       = aws_iam_role.task.name
  policy_arn = aws_iam_policy.consumer.arn
}

resource "aws_iam_role_policy_attachment" "task_targets" {
  count = local.any_target ? 1 : 0

  role       = aws_iam_role.task.name
  policy_arn = aws_iam_policy.targets[0].arn
}

# --- the ECS execution role (pulls the image, writes logs, reads secrets) -----

resource "aws_iam_role" "execution" {
  name               = "${var.name}-consumer-execution"
  description        = "ECS agent: pull the taskfleet image, write its logs, read its secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  count = length(var.secrets) > 0 ? 1 : 0

  statement {
    sid       = "ConsumerSecrets"
    actions   = ["secretsmanager:GetSecretValue", "ssm:GetParameters"]
    resources = distinct(values(var.secrets))
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count = length(var.secrets) > 0 ? 1 : 0

  name   = "consumer-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets[0].json
}

# --- EC2 (infra/systemd) -------------------------------------------------------

data "aws_iam_policy_document" "ec2_assume" {
  count = var.create_ec2_instance_profile ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ec2" {
  count = var.create_ec2_instance_profile ? 1 : 0

  name               = "${var.name}-consumer-ec2"
  description        = "Credentials of taskfleet consumers on EC2 (instance metadata)"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume[0].json
}

resource "aws_iam_role_policy_attachment" "ec2_consumer" {
  count = var.create_ec2_instance_profile ? 1 : 0

  role       = aws_iam_role.ec2[0].name
  policy_arn = aws_iam_policy.consumer.arn
}

resource "aws_iam_role_policy_attachment" "ec2_targets" {
  count = var.create_ec2_instance_profile && local.any_target ? 1 : 0

  role       = aws_iam_role.ec2[0].name
  policy_arn = aws_iam_policy.targets[0].arn
}

resource "aws_iam_instance_profile" "ec2" {
  count = var.create_ec2_instance_profile ? 1 : 0

  name = "${var.name}-consumer"
  role = aws_iam_role.ec2[0].name
}
