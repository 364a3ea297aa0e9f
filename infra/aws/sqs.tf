# infra/aws/sqs.tf - the queue and its dead-letter queue, as `taskfleet init`
# makes them (lib/aws/schema.c): QUEUE-dlq, a redrive policy after
# max_receive_count receives, 14 days' retention, 20 s long polls; and the
# queues of high and low tasks beside it, QUEUE-high and QUEUE-low, alike
# (docs/design.md section 13, "Priorities").

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = var.message_retention_seconds
  # SQS-managed encryption (SSE-SQS): no KMS key, so the roles need no kms:*
  # actions and every receive is not also a KMS request.
  sqs_managed_sse_enabled = true
}

resource "aws_sqs_queue" "tasks" {
  name                       = var.queue_name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue" "priority" {
  for_each = toset(["high", "low"])

  name                       = "${var.queue_name}-${each.key}"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

locals {
  # The queues tasks are sent to: normal, high, low.
  task_queue_arns = concat([aws_sqs_queue.tasks.arn],
  [for q in aws_sqs_queue.priority : q.arn])
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
    tasks = aws_sqs_queue.tasks.arn
    high  = aws_sqs_queue.priority["high"].arn
    low   = aws_sqs_queue.priority["low"].arn
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
    tasks = aws_sqs_queue.tasks.id
    high  = aws_sqs_queue.priority["high"].id
    low   = aws_sqs_queue.priority["low"].id
    dlq   = aws_sqs_queue.dlq.id
  }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.queue_tls_only[each.key].json
}
