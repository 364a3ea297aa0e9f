# infra/aws/autoscaling.tf - target tracking on backlog per task: visible
# messages of the three task queues (one per priority) divided by running
# consumers, the metric AWS recommends for SQS workers (queue depth alone
# does not shrink when consumers are added).

resource "aws_appautoscaling_target" "consumer" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.consumer.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "backlog_per_task" {
  name               = "${var.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.consumer.service_namespace
  resource_id        = aws_appautoscaling_target.consumer.resource_id
  scalable_dimension = aws_appautoscaling_target.consumer.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task_target
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown

    customized_metric_specification {
      # Every task queue's (one per priority): a backlog of high or low
      # tasks scales the fleet as one of normal tasks does.
      dynamic "metrics" {
        for_each = aws_sqs_queue.tasks

        content {
          id          = "visible_${metrics.key}"
          label       = "Messages ready to run (${metrics.key})"
          return_data = false

          metric_stat {
            stat = "Sum"

            metric {
              namespace   = "AWS/SQS"
              metric_name = "ApproximateNumberOfMessagesVisible"

              dimensions {
                name  = "QueueName"
                value = metrics.value.name
              }
            }
          }
        }
      }

      metrics {
        id          = "running"
        label       = "Running consumers"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.consumer.name
            }
          }
        }
      }

      # min_capacity >= 1 keeps the divisor above zero.
      metrics {
        id          = "backlog_per_task"
        label       = "Visible messages per running consumer"
        expression  = "(visible_normal + visible_high + visible_low) / running"
        return_data = true
      }
    }
  }
}
