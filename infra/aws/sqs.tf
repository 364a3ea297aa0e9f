# infra/aws/sqs.tf - the queue and its dead-letter queue, as `taskfleet init`
# makes them (lib/aws/schema.c): QUEUE-dlq, a redrive policy after
# max_receive_count receives, 14 days' retention, 20 s long polls; and the
# queues of high and low tasks beside it, QUEUE-high and QUEUE-low, alike:
# one resource for the three (docs/design.md section 13, "Priorities").

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = var.message_retention_seconds
  # SQS-managed encryption (SSE-SQS): no KMS key, so the roles need no kms:*
  # actions and every receive is not also a KMS request.
  sqs_managed_sse_enabled = true
}

locals {
  # The queues tasks are sent to, one per priority, by key: the consumer
  # polls all three (docs/design.md section 13).
  task_queue_names = {
    normal = var.queue_name
    high   = "${var.queue_name}-high"
    low    = "${var.queue_name}-low"
  }
  task_queue_arns = [for q in aws_sqs_queue.tasks : q.arn]
}

resource "aws_sqs_queue" "tasks" {
  for_each = local.task_queue_names

  name                       = each.value
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# The queues were two resources before (tasks, and priority for high and
# low): the same queues, not new ones.
moved {
  from = aws_sqs_queue.tasks
  to   = aws_sqs_queue.tasks["normal"]
}

moved {
  from = aws_sqs_queue.priority["high"]
  to   = aws_sqs_queue.tasks["high"]
}

moved {
  from = aws_sqs_queue.priority["low"]
  to   = aws_sqs_queue.tasks["low"]
}

# Only the task queues may move their messages into the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = local.task_queue_arns
  })
}

# Refuse requests that are not over TLS, on every queue.
data "aws_iam_policy_document" "queue_tls_only" {
  for_each = {
    tasks = aws_sqs_queue.tasks["normal"].arn
    high  = aws_sqs_queue.tasks["high"].arn
    low   = aws_sqs_queue.tasks["low"].arn
    dlq   = aws_sqs_queue.dlq.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tls_only" {
  for_each = {
    tasks = aws_sqs_queue.tasks["normal"].id
    high  = aws_sqs_queue.tasks["high"].id
    low   = aws_sqs_queue.tasks["low"].id
    dlq   = aws_sqs_queue.dlq.id
  }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.queue_tls_only[each.key].json
}
