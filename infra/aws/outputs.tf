# infra/aws/outputs.tf

output "table_name" {
  description = "TASKFLEET_TABLE"
  value       = aws_dynamodb_table.tasks.name
}

output "table_arn" {
  value = aws_dynamodb_table.tasks.arn
}

output "queue_url" {
  description = "TASKFLEET_QUEUE_URL"
  value       = aws_sqs_queue.tasks["normal"].url
}

output "queue_arn" {
  value = aws_sqs_queue.tasks["normal"].arn
}

output "dlq_url" {
  value = aws_sqs_queue.dlq.url
}

output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "service_name" {
  value = aws_ecs_service.consumer.name
}

output "ecr_repository_url" {
  description = "Push the consumer image here (empty when create_ecr_repository is false)."
  value       = one(aws_ecr_repository.consumer[*].repository_url)
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.consumer.name
}

output "consumer_policy_arn" {
  description = "Exactly the consumer's calls on this table and queue."
  value       = aws_iam_policy.consumer.arn
}

output "producer_policy_arn" {
  description = "Attach to the users, roles and CI that run the taskfleet CLI."
  value       = aws_iam_policy.producer.arn
}

output "task_role_arn" {
  value = aws_iam_role.task.arn
}

output "ec2_instance_profile_name" {
  description = "For consumers on EC2 (create_ec2_instance_profile)."
  value       = one(aws_iam_instance_profile.ec2[*].name)
}

output "alarm_topic_arn" {
  value = one(aws_sns_topic.alarms[*].arn)
}

output "consumer_env_file" {
  description = "The consumer's settings as an environment file, e.g. /etc/taskfleet/consumer.env for infra/systemd."
  value       = join("", [for k in sort(keys(local.consumer_environment)) : "${k}=${local.consumer_environment[k]}\n" if k != "TASKFLEET_RUNNERS"])
}

output "api_url" {
  description = "The API's HTTPS address on the load balancer (point your DNS name for the certificate at api_lb_dns_name). Empty without api_certificate_arn."
  value       = local.api_count == 1 ? "https://${aws_lb.api[0].dns_name}/" : ""
}

output "api_lb_dns_name" {
  description = "The API load balancer's DNS name (a CNAME or alias target). Empty without api_certificate_arn."
  value       = one(aws_lb.api[*].dns_name)
}
