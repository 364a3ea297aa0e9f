# infra/aws/variables.tf - every input has a default; see README.md.

variable "name" {
  description = "Prefix for the ECS cluster and service, IAM roles, log group, ECR repository and alarms."
  type        = string
  default     = "taskfleet"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,30}$", var.name))
    error_message = "name: 1 to 31 letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy into (also the consumer's AWS_REGION)."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- table and queues -------------------------------------------------------

variable "table_name" {
  description = "DynamoDB table (TASKFLEET_TABLE). The consumer's default is taskfleet-tasks."
  type        = string
  default     = "taskfleet-tasks"
}

variable "queue_name" {
  description = "SQS queue; its dead-letter queue is QUEUE-dlq, as `taskfleet init` names it."
  type        = string
  default     = "taskfleet-tasks"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.queue_name))
    error_message = "queue_name: 1 to 76 letters, digits, hyphens and underscores (QUEUE-dlq must fit SQS's 80)."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue (taskfleet init's default is 5)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count: 1 to 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "The queue's visibility timeout, also passed to the consumer (--visibility-timeout). The consumer extends it while a runner works, so it bounds how soon a message of a dead consumer comes back, not how long a run may take."
  type        = number
  default     = 60

  validation {
    # The heartbeat renews at half of it and gives up a quarter of it (at most
    # 15 s) before the lease ends: below 30 s that leaves no room for a retry.
    condition     = var.visibility_timeout_seconds >= 30 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds: 30 to 43200."
  }
}

variable "message_retention_seconds" {
  description = "How long both queues keep a message (taskfleet init uses 14 days)."
  type        = number
  default     = 1209600
}

variable "point_in_time_recovery" {
  description = "Continuous backups of the table (restore to any second of the last 35 days)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse to delete the table (terraform destroy fails until this is false and applied)."
  type        = bool
  default     = true
}

# --- the consumer -----------------------------------------------------------

variable "image" {
  description = "Consumer image (infra/docker). Empty: the ECR repository this configuration creates, with image_tag."
  type        = string
  default     = ""
}

variable "image_tag" {
  description = "Tag used with the created ECR repository when image is empty."
  type        = string
  default     = "latest"
}

variable "create_ecr_repository" {
  description = "Create an ECR repository NAME for the consumer image."
  type        = bool
  default     = true
}

variable "cpu" {
  description = "Fargate task CPU units (256, 512, 1024, ...)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Fargate task memory in MiB (must fit the CPU size)."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64; the image must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture: X86_64 or ARM64."
  }
}

variable "concurrency" {
  description = "Tasks one consumer runs at once (TASKFLEET_CONCURRENCY)."
  type        = number
  default     = 16
}

variable "shutdown_timeout" {
  description = "Seconds a stopping consumer lets running tasks finish (--shutdown-timeout). ECS waits this plus 20 s before SIGKILL."
  type        = number
  default     = 25

  validation {
    # Fargate's stopTimeout is at most 120 s, and the consumer's watchdog ends
    # a shutdown that hangs 15 s past this timeout.
    condition     = var.shutdown_timeout >= 0 && var.shutdown_timeout <= 100
    error_message = "shutdown_timeout: 0 to 100 (ECS stops a Fargate container at most 120 s after SIGTERM)."
  }
}

variable "log_level" {
  description = "TASKFLEET_LOG: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level: debug, info, warn or error."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the consumer's log group."
  type        = number
  default     = 30
}

variable "isolate" {
  description = "TASKFLEET_ISOLATE: runners to run in worker processes (comma-separated, or *). Empty: none."
  type        = string
  default     = ""
}

variable "run_timeout" {
  description = "TASKFLEET_RUN_TIMEOUT, e.g. \"http=30s,*=5m\". Empty: no limit."
  type        = string
  default     = ""
}

variable "http_allow" {
  description = "TASKFLEET_HTTP_ALLOW: private hosts or CIDRs the http runner may call. Empty: none."
  type        = string
  default     = ""
}

variable "http_targets" {
  description = "TASKFLEET_HTTP_TARGETS: the only hosts, addresses or CIDRs (each with an optional :port) the http runner may call. Empty: any."
  type        = string
  default     = ""
}

variable "environment" {
  description = "More environment variables for the consumer (TASKFLEET_RUNNER_CONFIG_<NAME>, TASKFLEET_LEASE_GRACE, TASKFLEET_WATCHDOG, ...)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables taken from Secrets Manager or SSM Parameter Store: NAME = ARN (e.g. TASKFLEET_HTTP_SIGNING_KEYS). The execution role may read exactly these."
  type        = map(string)
  default     = {}
}

variable "metrics_port" {
  description = "Port of the consumer's --metrics-listen (/metrics, /healthz, /readyz)."
  type        = number
  default     = 9100
}

variable "metrics_ingress_cidrs" {
  description = "CIDR ranges that may scrape /metrics. Empty: no inbound traffic at all."
  type        = list(string)
  default     = []
}

# --- network ----------------------------------------------------------------

variable "subnet_ids" {
  description = "Subnets for the Fargate tasks. Empty: the default VPC's default subnets."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (needed in public subnets without a NAT gateway). null: true for the default VPC, false otherwise."
  type        = bool
  default     = null
}

# --- scaling ----------------------------------------------------------------

variable "min_capacity" {
  description = "Fewest consumers. At least 1: the sweeper that enqueues tasks due later than 15 minutes runs in the consumers."
  type        = number
  default     = 1

  validation {
    condition     = var.min_capacity >= 1
    error_message = "min_capacity: at least 1 (with no consumer no sweeper runs, so nothing far in the future is ever enqueued and the backlog never grows to scale out)."
  }
}

variable "max_capacity" {
  description = "Most consumers."
  type        = number
  default     = 10
}

variable "backlog_per_task_target" {
  description = "Target of visible messages per running consumer: concurrency x acceptable wait / average run time (16 x 10 s / 1.6 s = 100)."
  type        = number
  default     = 100
}

variable "scale_out_cooldown" {
  description = "Seconds between scale-out steps."
  type        = number
  default     = 60
}

variable "scale_in_cooldown" {
  description = "Seconds between scale-in steps (a consumer that scales in finishes its runs first)."
  type        = number
  default     = 300
}

variable "use_fargate_spot" {
  description = "Run consumers on Fargate Spot (a reclaimed task gets SIGTERM and 2 minutes: the graceful shutdown fits)."
  type        = bool
  default     = false
}

# --- alarms -----------------------------------------------------------------

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest message is older than this. Messages are sent with delays of up to 15 minutes, so keep it above 900."
  type        = number
  default     = 1200
}

variable "dlq_alarm_threshold" {
  description = "Alarm when the dead-letter queue holds more than this many messages."
  type        = number
  default     = 0
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or clears (SNS topics, ...)."
  type        = list(string)
  default     = []
}

variable "alarm_email" {
  description = "If set, an SNS topic NAME-alarms with this e-mail subscription is created and notified too."
  type        = string
  default     = ""
}

# --- EC2 --------------------------------------------------------------------

variable "create_ec2_instance_profile" {
  description = "Also create an instance profile with the consumer's policy, for consumers on EC2 (infra/systemd)."
  type        = bool
  default     = false
}

# --- the API (taskfleet serve: api.tf) ----------------------------------------

variable "api_certificate_arn" {
  description = "ACM certificate for the API's HTTPS listener. Empty: no API service, load balancer or API role is created."
  type        = string
  default     = ""
}

variable "api_keys_secret_arn" {
  description = "Secrets Manager secret holding the API keys' hashes (TASKFLEET_API_KEYS_SECRET). Give this or api_keys_parameter_name."
  type        = string
  default     = ""
}

variable "api_keys_parameter_name" {
  description = "SSM parameter (a SecureString) holding the API keys' hashes (TASKFLEET_API_KEYS_PARAMETER), instead of api_keys_secret_arn."
  type        = string
  default     = ""
}

variable "api_keys_refresh" {
  description = "TASKFLEET_API_KEYS_REFRESH: how often serve reads the keys again."
  type        = string
  default     = "5m"
}

variable "api_port" {
  description = "Port serve listens on inside the task (the load balancer's target)."
  type        = number
  default     = 8080
}

variable "api_ingress_cidrs" {
  description = "CIDR ranges that may reach the load balancer (HTTPS, and HTTP that redirects)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "api_internal" {
  description = "An internal load balancer (reachable from the VPC only) instead of an internet-facing one."
  type        = bool
  default     = false
}

variable "api_ssl_policy" {
  description = "The HTTPS listener's TLS policy."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "api_environment" {
  description = "More environment variables for serve (TASKFLEET_API_RATE, TASKFLEET_API_CORS_ORIGINS, ...)."
  type        = map(string)
  default     = {}
}

variable "api_min_capacity" {
  description = "Fewest serve tasks (2 keeps the API up while one is replaced)."
  type        = number
  default     = 2
}

variable "api_max_capacity" {
  description = "Most serve tasks."
  type        = number
  default     = 6
}

variable "api_requests_per_task_target" {
  description = "Target of load balancer requests per serve task per minute (ALBRequestCountPerTarget)."
  type        = number
  default     = 3000
}

variable "api_cpu_target" {
  description = "Target average CPU utilisation (percent) of the serve tasks."
  type        = number
  default     = 60
}

# --- AWS targets (docs/targets.md) -------------------------------------------

variable "target_sqs_queue_arns" {
  description = "Queues the sqs runner may send to (sqs:SendMessage, and sqs:GetQueueUrl for a queue given by name). Empty: none."
  type        = list(string)
  default     = []
}

variable "target_sns_topic_arns" {
  description = "Topics the sns runner may publish to (sns:Publish). Empty: none."
  type        = list(string)
  default     = []
}

variable "target_lambda_function_arns" {
  description = "Functions the lambda runner may invoke (lambda:InvokeFunction), unqualified ARNs: their versions and aliases are included. Empty: none."
  type        = list(string)
  default     = []
}

variable "target_event_bus_arns" {
  description = "Event buses the eventbridge runner may put events on (events:PutEvents). Empty: none."
  type        = list(string)
  default     = []
}

variable "target_state_machine_arns" {
  description = "State machines the stepfunctions runner may start (states:StartExecution, and states:DescribeExecution of their executions). Empty: none."
  type        = list(string)
  default     = []
}

variable "target_role_arns" {
  description = "Roles the AWS target runners may assume for a task that names one in its params (role_arn; sts:AssumeRole), e.g. in other accounts, whose trust policies must allow this task role. Empty: none."
  type        = list(string)
  default     = []
}
