# infra/aws/dynamodb.tf - the task table, as docs/design.md section 2 and `taskfleet init`
# (lib/aws/schema.c) define it: partition key id, the sparse by_due index the
# sweeper queries and the by_ns index for listing a namespace by time.

resource "aws_dynamodb_table" "tasks" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "due_shard"
    type = "S"
  }

  attribute {
    name = "due_at"
    type = "N"
  }

  attribute {
    name = "ns"
    type = "S"
  }

  attribute {
    name = "next_run"
    type = "N"
  }

  # Present only while a task is PENDING or PROCESSING; projects what the
  # sweeper reads.
  global_secondary_index {
    name               = "by_due"
    hash_key           = "due_shard"
    range_key          = "due_at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "gen", "next_run", "lease_until", "enqueued_for"]
  }

  global_secondary_index {
    name            = "by_ns"
    hash_key        = "ns"
    range_key       = "next_run"
    projection_type = "ALL"
  }

  # Finished tasks carry `ttl` (epoch seconds) when a retention is configured.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  # The AWS managed key (aws/dynamodb): encrypted at rest with a key whose use
  # CloudTrail records, and no key policy to keep or KMS grant for the roles.
  server_side_encryption {
    enabled = true
  }
}
