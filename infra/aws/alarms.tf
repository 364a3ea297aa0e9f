# infra/aws/alarms.tf - the two signals that tasks are not being run: late
# messages in any task queue, and dead letters.
# README.md says what each means and what to do.

resource "aws_sns_topic" "alarms" {
  count = var.alarm_email != "" ? 1 : 0

  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email != "" ? 1 : 0

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = concat(var.alarm_actions, aws_sns_topic.alarms[*].arn)
}

# Messages wait longer than they should, in any task queue (one per
# priority): too few consumers, consumers that do not poll (crash loop, wrong
# queue, missing permissions) or runs that take far longer than usual. The
# normal queue's alarm keeps its name; the others' name their priority.
resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = aws_sqs_queue.tasks

  alarm_name        = each.key == "normal" ? "${var.name}-oldest-message-age" : "${var.name}-${each.key}-oldest-message-age"
  alarm_description = "The oldest message in ${each.value.name} is older than ${var.oldest_message_age_alarm_seconds} s: tasks are late. See infra/aws/README.md."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = each.value.name
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = var.oldest_message_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The normal queue's alarm, from before there was one per queue.
moved {
  from = aws_cloudwatch_metric_alarm.oldest_message_age
  to   = aws_cloudwatch_metric_alarm.oldest_message_age["normal"]
}

# Anything in the dead-letter queue (the one all three task queues redrive
# to) is a message that failed before any result could be written:
# `taskfleet dlq list` says why.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name        = "${var.name}-dead-letters"
  alarm_description = "${aws_sqs_queue.dlq.name} holds more than ${var.dlq_alarm_threshold} messages. Run `taskfleet dlq list`; see infra/aws/README.md."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = aws_sqs_queue.dlq.name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dlq_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
