# infra/aws/network.tf - where the Fargate tasks run. The consumer only makes
# outbound calls (AWS APIs, the http runner's webhooks); nothing reaches it
# unless metrics_ingress_cidrs opens its metrics port.

data "aws_vpc" "default" {
  count   = length(var.subnet_ids) == 0 ? 1 : 0
  default = true
}

data "aws_subnets" "default" {
  count = length(var.subnet_ids) == 0 ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default[0].id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

data "aws_subnet" "first" {
  count = length(var.subnet_ids) > 0 ? 1 : 0
  id    = var.subnet_ids[0]
}

locals {
  subnet_ids       = length(var.subnet_ids) > 0 ? var.subnet_ids : one(data.aws_subnets.default[*].ids)
  vpc_id           = length(var.subnet_ids) > 0 ? one(data.aws_subnet.first[*].vpc_id) : one(data.aws_vpc.default[*].id)
  assign_public_ip = var.assign_public_ip != null ? var.assign_public_ip : length(var.subnet_ids) == 0
}

resource "aws_security_group" "consumer" {
  name_prefix = "${var.name}-consumer-"
  description = "taskfleet consumers: outbound only, plus metrics from metrics_ingress_cidrs"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

# AWS APIs over HTTPS, and webhooks to whatever port a task names.
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.consumer.id
  description       = "AWS APIs and the http runner's targets"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  for_each = toset(var.metrics_ingress_cidrs)

  security_group_id = aws_security_group.consumer.id
  description       = "Prometheus scrape of /metrics"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}
